//! WGSL and Rust checked against each other by naga, with no adapter, from the kernel
//! descriptors alone (src/rnn/gpu/kernels/): every `.wgsl` file in that folder is a part of
//! a module and embedded as it is; every module, its parts joined with the host's constants
//! as the registry builds it, parses and validates; every uniform struct has its Rust
//! mirror's member names, offsets and size; every kernel's entry point declares the
//! workgroup size and the bindings (index, storage class, access) its descriptor says (and
//! that ProgramBuilder::push holds every launcher to); every constant the host writes is
//! used, and has the host's value in the module.

use elman::rnn::gpu::kernels::registry::all_kernels;
use elman::rnn::gpu::kernels::{Access, KernelModule, MODULES};
use naga::{AddressSpace, Expression, Literal, Module, StorageAccess, TypeInner};
use std::collections::HashSet;
use std::path::Path;

fn parse(name: &str, source: &str) -> (Module, naga::valid::ModuleInfo) {
    let module = naga::front::wgsl::parse_str(source).unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(source)));
    let info = naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::default())
        .validate(&module)
        .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(source)));
    (module, info)
}

fn module(m: &KernelModule) -> (Module, naga::valid::ModuleInfo) {
    parse(m.file(), &m.source())
}

#[test]
fn every_wgsl_file_is_a_part_of_a_module_and_every_module_validates() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/rnn/gpu/kernels");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("the kernels folder exists")
        .map(|e| e.expect("readable entry").file_name().to_string_lossy().into_owned())
        .filter(|f| f.ends_with(".wgsl"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .wgsl files in {}", dir.display());
    for f in &files {
        let source = std::fs::read_to_string(dir.join(f)).expect("readable shader");
        let part = MODULES.iter().flat_map(|m| m.parts.iter()).find(|p| p.file == f.as_str()).unwrap_or_else(|| panic!("{f} is a part of no module"));
        assert_eq!(part.text, source, "{f}: embedded copy differs");
    }
    let parts: HashSet<&str> = MODULES.iter().flat_map(|m| m.parts.iter().map(|p| p.file)).collect();
    assert_eq!(parts.len(), files.len(), "parts {parts:?}, files {files:?}");
    for m in MODULES {
        module(m);
    }
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

#[test]
fn uniform_structs_match_their_rust_mirrors_member_by_member() {
    let mut pinned = 0;
    for m in MODULES {
        let (naga_module, _) = module(m);
        for part in m.parts {
            for u in part.uniforms {
                let (members, span) = wgsl_struct(&naga_module, u.wgsl).unwrap_or_else(|| panic!("{} has no struct {}", m.file(), u.wgsl));
                let rust: Vec<(String, u32)> = u.fields.iter().map(|&(f, o)| (f.to_string(), o as u32)).collect();
                assert_eq!(members, rust, "{} struct {}: members (name, offset) differ from the Rust mirror", m.file(), u.wgsl);
                assert_eq!(span as usize, u.size, "{} struct {}: size", m.file(), u.wgsl);
                pinned += 1;
            }
        }
    }
    // Every module starts with the prelude and its StepParams, and each family's own
    // uniform (the recurrent ones: the wave's Params and Lane, the persistent kernel's Run).
    assert!(pinned >= 2 * MODULES.len(), "only {pinned} uniform structs pinned");
}

/// The u32 value of a constant expression, with `overrides` giving pipeline constants.
fn eval(m: &Module, e: naga::Handle<Expression>, overrides: &[(&str, u32)]) -> u32 {
    match &m.global_expressions[e] {
        Expression::Literal(Literal::U32(v)) => *v,
        Expression::Literal(Literal::I32(v)) => *v as u32,
        Expression::Literal(Literal::AbstractInt(v)) => *v as u32,
        Expression::Constant(c) => eval(m, m.constants[*c].init, overrides),
        Expression::Override(o) => {
            let o = &m.overrides[*o];
            let name = o.name.as_deref().unwrap_or_default();
            match overrides.iter().find(|(n, _)| *n == name) {
                Some(&(_, v)) => v,
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
fn entry_points_declare_the_workgroup_sizes_and_bindings_of_their_descriptors() {
    let mut names = HashSet::new();
    for m in MODULES {
        let (naga_module, info) = module(m);
        for k in (m.kernels)() {
            assert!(names.insert(k.name), "two kernels are called {}", k.name);
            let (index, ep) = naga_module.entry_points.iter().enumerate().find(|(_, e)| e.name == k.entry).unwrap_or_else(|| panic!("{} has no entry point {}", m.file(), k.entry));
            assert_ne!(ep.name, "main");
            // Workgroup size, with the pipeline's overridable constants applied.
            let size: Vec<u32> = match ep.workgroup_size_overrides {
                Some(exprs) => (0..3).map(|i| exprs[i].map_or(ep.workgroup_size[i], |e| eval(&naga_module, e, k.overrides))).collect(),
                None => ep.workgroup_size.to_vec(),
            };
            assert_eq!(size, k.workgroup_size.to_vec(), "{}: workgroup size", k.name);
            // The bindings the entry point uses, as declared.
            let uses = info.get_entry_point(index);
            let mut used: Vec<(u32, Access)> = naga_module
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
                    assert_eq!(binding.group, 0, "{}: everything in group 0", k.name);
                    Some((binding.binding, access))
                })
                .collect();
            used.sort_by_key(|&(i, _)| i);
            assert_eq!(used, k.bindings.to_vec(), "{}: bindings (index, access)", k.name);
        }
    }
    assert_eq!(names.len(), all_kernels().len());
}

#[test]
fn every_host_constant_is_used_and_has_the_hosts_value_in_its_module() {
    for m in MODULES {
        let (naga_module, _) = module(m);
        for part in m.parts {
            for &(name, value) in part.constants {
                let code = part.text.lines().map(|l| l.split("//").next().unwrap_or_default()).collect::<Vec<_>>().join("\n");
                let used = code.split(|c: char| !(c.is_alphanumeric() || c == '_')).any(|word| word == name);
                assert!(used, "{}: the host writes {name}, which the file's code never uses", part.file);
                let (_, c) = naga_module.constants.iter().find(|(_, c)| c.name.as_deref() == Some(name)).unwrap_or_else(|| panic!("{} has no const {name}", m.file()));
                assert_eq!(eval(&naga_module, c.init, &[]), value, "{}: {name}", m.file());
            }
        }
    }
}
