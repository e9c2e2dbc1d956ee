//! `elman info`: every GPU adapter wgpu finds (WGPU_BACKEND restricts the backends), with
//! its type, backend, driver and the limits the GPU path checks buffer sizes against.

use clap::Args;

#[derive(Args, Debug)]
pub struct InfoArgs {}

fn mib(bytes: u64) -> String {
    format!("{} MiB", bytes >> 20)
}

pub fn run(_args: InfoArgs) -> anyhow::Result<()> {
    let adapters = elman::rnn::gpu::list_adapters();
    if adapters.is_empty() {
        println!("no GPU adapters found (WGPU_BACKEND={}); training runs on the CPU", std::env::var("WGPU_BACKEND").unwrap_or_else(|_| "unset".into()));
        return Ok(());
    }
    for (i, a) in adapters.iter().enumerate() {
        let l = &a.limits;
        println!("adapter {i}: {}", a.info.name);
        println!("  backend {:?}, type {:?}{}", a.info.backend, a.info.device_type, if a.is_software() { " (software: used only with --device gpu)" } else { "" });
        println!("  driver {} {}", a.info.driver, a.info.driver_info);
        println!(
            "  max_buffer_size {}, max_storage_buffer_binding_size {}, max_storage_buffers_per_shader_stage {}",
            mib(l.max_buffer_size),
            mib(l.max_storage_buffer_binding_size),
            l.max_storage_buffers_per_shader_stage
        );
        println!(
            "  max_compute_workgroup_storage_size {} B, max_compute_invocations_per_workgroup {}, max_compute_workgroups_per_dimension {}",
            l.max_compute_workgroup_storage_size, l.max_compute_invocations_per_workgroup, l.max_compute_workgroups_per_dimension
        );
    }
    Ok(())
}
