//! WGSL and Rust checked against each other by naga, with no adapter: every
//! shaders/*.wgsl file, joined to shaders/prelude.wgsl as kernels.rs builds it, parses and
//! validates and is embedded in the binary; every uniform struct has its Rust mirror's
//! member names, offsets and size; every entry point declares the workgroup size and the
//! bindings (index, storage class, access) that kernels.rs says it does (and that
//! ProgramBuilder::push holds every launcher to); the WGSL constants the launchers mirror
//! have the same values.

use elman::rnn::gpu::kernels::{Access, Kernel, Shader, ELEMENTWISE_WG, PRELUDE, RNN_WAVE, SOFTMAX_WG, TRANSPOSE_TILE, TRANSPOSE_WG_ROWS};
use elman::rnn::gpu::launch::{NUM_PARTIALS, RNN_COLS};
use elman::rnn::gpu::params::*;
use naga::{AddressSpace, Expression, Literal, Module, StorageAccess, TypeInner};
use std::path::Path;

fn parse(name: &str, source: &str) -> (Module, naga::valid::ModuleInfo) {
    let module = naga::front::wgsl::parse_str(source).unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(source)));
    let info = naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::default())
        .validate(&module)
        .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(source)));
    (module, info)
}

fn module(s: Shader) -> (Module, naga::valid::ModuleInfo) {
    parse(s.file(), &s.source())
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
            parse(f, &source);
            assert_eq!(PRELUDE, source, "{f}: embedded copy differs");
            continue;
        }
        if f == "rnn_wave.wgsl" {
            // The recurrent kernels' shared body: validated inside both of their modules.
            assert_eq!(RNN_WAVE, source, "{f}: embedded copy differs");
            assert!(Shader::RnnStep.source().contains(RNN_WAVE) && Shader::RnnPersistent.source().contains(RNN_WAVE));
            continue;
        }
        let embedded = Shader::ALL.iter().find(|s| s.file() == f).unwrap_or_else(|| panic!("{f} is not embedded in kernels.rs"));
        assert_eq!(embedded.file_source(), source, "{f}: embedded copy differs");
        parse(f, &embedded.source());
    }
    assert_eq!(files.len(), Shader::ALL.len() + 2, "files {files:?}");
}

/// (member name, offset) of a WGSL struct, and its size.
fn wgsl_struct(module: &Module, name: &str) -> Option<(Vec<(String, u32)>, u32)> {
    module.types.iter().find_map(|(_, ty)| match (&ty.name, &ty.inner) {
        (Some(n), TypeInner::Struct { members, span }) if n == name => {
            Some((members.iter().map(|m| (m.name.clone().unwrap_or_default(), m.offset)).collect(), *span))
        }
        _ => None,
    })
}

/// Fails unless the WGSL struct `name` of `shader` has T's member names, offsets and size.
fn pin<T: UniformLayout>(shader: Shader, name: &str) {
    let (m, _) = module(shader);
    let (members, span) = wgsl_struct(&m, name).unwrap_or_else(|| panic!("{} has no struct {name}", shader.file()));
    let rust: Vec<(String, u32)> = T::FIELDS.iter().map(|&(f, o)| (f.to_string(), o as u32)).collect();
    assert_eq!(members, rust, "{} struct {name}: members (name, offset) differ from the Rust mirror", shader.file());
    assert_eq!(span as usize, std::mem::size_of::<T>(), "{} struct {name}: size", shader.file());
}

#[test]
fn uniform_structs_match_their_rust_mirrors_member_by_member() {
    pin::<MatmulParams>(Shader::Matmul, "Params");
    pin::<RnnStepParams>(Shader::RnnStep, "Params");
    pin::<RnnLane>(Shader::RnnStep, "Lane");
    pin::<RnnStepParams>(Shader::RnnPersistent, "Params");
    pin::<PersistentRun>(Shader::RnnPersistent, "Run");
    pin::<TransposeParams>(Shader::Transpose, "Params");
    pin::<EmbeddingParams>(Shader::Embedding, "Params");
    pin::<SoftmaxParams>(Shader::SoftmaxXent, "Params");
    pin::<ReduceParams>(Shader::Reduce, "Params");
    pin::<OptimizerParams>(Shader::Optimizer, "Params");
    pin::<DropoutParams>(Shader::Dropout, "Params");
    // The per-step uniform lives once, in the prelude, which every module starts with.
    for s in Shader::ALL {
        pin::<StepParams>(s, "StepParams");
    }
}

/// The u32 value of a constant expression, with `overrides` giving pipeline constants.
fn eval(m: &Module, e: naga::Handle<Expression>, overrides: &[(&str, f64)]) -> u32 {
    match &m.global_expressions[e] {
        Expression::Literal(Literal::U32(v)) => *v,
        Expression::Literal(Literal::I32(v)) => *v as u32,
        Expression::Literal(Literal::AbstractInt(v)) => *v as u32,
        Expression::Constant(c) => eval(m, m.constants[*c].init, overrides),
        Expression::Override(o) => {
            let o = &m.overrides[*o];
            let name = o.name.as_deref().unwrap_or_default();
            match overrides.iter().find(|(n, _)| *n == name) {
                Some(&(_, v)) => v as u32,
                None => eval(m, o.init.unwrap_or_else(|| panic!("override {name} has no default")), overrides),
            }
        }
        Expression::Binary { op, left, right } => {
            let (a, b) = (eval(m, *left, overrides), eval(m, *right, overrides));
            match op {
                naga::BinaryOperator::Add => a + b,
                naga::BinaryOperator::Subtract => a - b,
                naga::BinaryOperator::Multiply => a * b,
                naga::BinaryOperator::Divide => a / b,
                other => panic!("unexpected operator {other:?} in a workgroup size"),
            }
        }
        other => panic!("unexpected expression {other:?} in a workgroup size"),
    }
}

#[test]
fn entry_points_declare_the_workgroup_sizes_and_bindings_the_launchers_use() {
    for k in Kernel::all() {
        let (m, info) = module(k.shader());
        let (index, ep) = m.entry_points.iter().enumerate().find(|(_, e)| e.name == k.entry_point()).unwrap_or_else(|| panic!("no entry point {}", k.entry_point()));
        assert_ne!(ep.name, "main");
        // Workgroup size, with the pipeline's overridable constants applied.
        let constants = k.constants();
        let size: Vec<u32> = match ep.workgroup_size_overrides {
            Some(exprs) => (0..3).map(|i| exprs[i].map_or(ep.workgroup_size[i], |e| eval(&m, e, &constants))).collect(),
            None => ep.workgroup_size.to_vec(),
        };
        assert_eq!(size, k.workgroup_size().to_vec(), "{k:?}: workgroup size");
        // The bindings the entry point uses, as declared.
        let uses = info.get_entry_point(index);
        let mut used: Vec<(u32, Access)> = m
            .global_variables
            .iter()
            .filter(|(h, _)| !uses[*h].is_empty())
            .filter_map(|(_, g)| {
                let access = match g.space {
                    AddressSpace::Uniform => Access::Uniform,
                    AddressSpace::Storage { access } if access.contains(StorageAccess::STORE) => Access::ReadWrite,
                    AddressSpace::Storage { .. } => Access::Read,
                    _ => return None,
                };
                let binding = g.binding.as_ref().expect("resources have bindings");
                assert_eq!(binding.group, 0, "{k:?}: everything in group 0");
                Some((binding.binding, access))
            })
            .collect();
        used.sort_by_key(|&(i, _)| i);
        assert_eq!(used, k.bindings().to_vec(), "{k:?}: bindings (index, access)");
    }
}

/// The value of the WGSL constant `name` in `shader`.
fn wgsl_const(shader: Shader, name: &str) -> u32 {
    let (m, _) = module(shader);
    let (_, c) = m.constants.iter().find(|(_, c)| c.name.as_deref() == Some(name)).unwrap_or_else(|| panic!("{} has no const {name}", shader.file()));
    eval(&m, c.init, &[])
}

#[test]
fn wgsl_constants_equal_their_rust_mirrors() {
    assert_eq!(wgsl_const(Shader::Reduce, "NUM_PARTIALS"), NUM_PARTIALS);
    assert_eq!(wgsl_const(Shader::Reduce, "WG"), ELEMENTWISE_WG);
    assert_eq!(wgsl_const(Shader::RnnStep, "COLS"), RNN_COLS);
    assert_eq!(wgsl_const(Shader::RnnStep, "THREADS"), ELEMENTWISE_WG);
    assert_eq!(wgsl_const(Shader::Transpose, "TILE"), TRANSPOSE_TILE);
    assert_eq!(wgsl_const(Shader::Transpose, "WG_ROWS"), TRANSPOSE_WG_ROWS);
    assert_eq!(wgsl_const(Shader::SoftmaxXent, "WG"), SOFTMAX_WG);
    assert_eq!(wgsl_const(Shader::Matmul, "REDUCE_WG"), ELEMENTWISE_WG);
    for s in [Shader::Embedding, Shader::Optimizer, Shader::Dropout] {
        assert_eq!(wgsl_const(s, "WG"), ELEMENTWISE_WG, "{}", s.file());
    }
    // The flag bits matmul.wgsl tests.
    for (name, rust) in [("TRANS_A", MatmulParams::TRANS_A), ("TRANS_B", MatmulParams::TRANS_B), ("ACCUMULATE", MatmulParams::ACCUMULATE), ("BIAS", MatmulParams::BIAS), ("ONES_ROW", MatmulParams::ONES_ROW)] {
        assert_eq!(wgsl_const(Shader::Matmul, name), rust, "matmul.wgsl {name}");
    }
    for (name, rust) in [("HAS_RECURRENT", RnnLane::HAS_RECURRENT), ("VEC4", RnnLane::VEC4), ("DROP", RnnLane::DROP), ("X_TERM", RnnLane::X_TERM)] {
        assert_eq!(wgsl_const(Shader::RnnStep, name), rust, "rnn_step.wgsl {name}");
    }
    // The persistent kernel's run flags and the words of its sync buffer.
    let run = [("RUN_BACK", PersistentRun::BACK), ("RUN_MI", PersistentRun::MI), ("RUN_FALLBACK", PersistentRun::FALLBACK)];
    let words = [("FAILED_WORD", PersistentRun::FAILED_WORD as u32), ("PERSISTENT_ARRIVALS", PersistentRun::PERSISTENT_ARRIVALS), ("FALLBACK_ARRIVALS", PersistentRun::FALLBACK_ARRIVALS)];
    for (name, rust) in run.into_iter().chain(words) {
        assert_eq!(wgsl_const(Shader::RnnPersistent, name), rust, "rnn_persistent.wgsl {name}");
    }
    assert_eq!(wgsl_const(Shader::RnnPersistent, "MI"), RnnLane::MI);
}
