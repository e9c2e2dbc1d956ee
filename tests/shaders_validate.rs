//! Every shaders/*.wgsl file, joined to shaders/prelude.wgsl as kernels.rs builds it,
//! parses and validates with naga (no adapter needed), every file is embedded in the
//! binary, and each WGSL `Params`/`StepParams` struct has the size of its Rust mirror.

use elman::gpu::kernels::{Kernel, Shader, PRELUDE};
use elman::gpu::params::*;
use std::path::Path;

fn parse_and_validate(name: &str, source: &str) -> naga::Module {
    let module = naga::front::wgsl::parse_str(source).unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(source)));
    naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::default())
        .validate(&module)
        .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(source)));
    module
}

fn struct_size(module: &naga::Module, name: &str) -> Option<u32> {
    module.types.iter().find_map(|(_, ty)| match (&ty.name, &ty.inner) {
        (Some(n), naga::TypeInner::Struct { span, .. }) if n == name => Some(*span),
        _ => None,
    })
}

#[test]
fn every_wgsl_file_validates_and_is_embedded() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("shaders/ exists")
        .map(|e| e.expect("readable entry").file_name().to_string_lossy().into_owned())
        .filter(|f| f.ends_with(".wgsl"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .wgsl files in {}", dir.display());
    for f in &files {
        let source = std::fs::read_to_string(dir.join(f)).expect("readable shader");
        if f == "prelude.wgsl" {
            parse_and_validate(f, &source);
            assert_eq!(PRELUDE, source, "{f}: embedded copy differs");
            continue;
        }
        let embedded = Shader::ALL.iter().find(|s| s.file() == f).unwrap_or_else(|| panic!("{f} is not embedded in kernels.rs"));
        assert_eq!(embedded.file_source(), source, "{f}: embedded copy differs");
        parse_and_validate(f, &embedded.source());
    }
    assert_eq!(files.len(), Shader::ALL.len() + 1, "files {files:?}");
}

#[test]
fn every_kernel_entry_point_exists_and_none_is_main() {
    for k in Kernel::all() {
        let module = parse_and_validate(k.shader().file(), &k.shader().source());
        assert!(
            module.entry_points.iter().any(|e| e.name == k.entry_point()),
            "{} has no entry point {}",
            k.shader().file(),
            k.entry_point()
        );
        assert!(module.entry_points.iter().all(|e| e.name != "main"));
    }
}

#[test]
fn uniform_structs_match_their_rust_mirrors() {
    let params_size = |s: Shader| {
        let m = parse_and_validate(s.file(), &s.source());
        struct_size(&m, "Params").unwrap_or_else(|| panic!("{} has no struct Params", s.file())) as usize
    };
    use std::mem::size_of;
    assert_eq!(params_size(Shader::Matmul), size_of::<MatmulParams>());
    assert_eq!(params_size(Shader::RnnStep), size_of::<RnnStepParams>());
    assert_eq!(params_size(Shader::Embedding), size_of::<EmbeddingParams>());
    assert_eq!(params_size(Shader::SoftmaxXent), size_of::<SoftmaxParams>());
    assert_eq!(params_size(Shader::Reduce), size_of::<ReduceParams>());
    assert_eq!(params_size(Shader::Optimizer), size_of::<OptimizerParams>());
    assert_eq!(params_size(Shader::Dropout), size_of::<DropoutParams>());
    for s in [Shader::Reduce, Shader::Optimizer, Shader::Dropout, Shader::RnnStep] {
        let m = parse_and_validate(s.file(), &s.source());
        assert_eq!(struct_size(&m, "StepParams"), Some(size_of::<StepParams>() as u32), "{}", s.file());
    }
}
