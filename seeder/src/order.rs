//! The order schemas are seeded in, derived from each seed's `depends_on`
//! (a topological sort), never from a hand-kept list.

use std::collections::BTreeSet;

use schema_core::seeding::SchemaSeed;

use crate::error::SeedError;

/// The indices of `seeds` in seeding order: every schema after the schemas
/// it depends on; ties go by schema name, so registration order never matters. With `only`, just that
/// schema and what it depends on, transitively.
///
/// Refuses duplicate schemas, dependencies on unregistered schemas and cycles.
pub fn resolve(seeds: &[Box<dyn SchemaSeed>], only: Option<&str>) -> Result<Vec<usize>, SeedError> {
    let names: Vec<&str> = seeds.iter().map(|seed| seed.schema()).collect();
    let position = |name: &str| names.iter().position(|n| *n == name);
    let registered = || names.join(", ");

    for (index, name) in names.iter().enumerate() {
        if names[..index].contains(name) {
            return Err(SeedError::DuplicateSchema {
                schema: (*name).to_owned(),
            });
        }
    }
    let mut edges: Vec<Vec<usize>> = Vec::with_capacity(seeds.len());
    for seed in seeds {
        let mut deps = Vec::new();
        for dependency in seed.depends_on() {
            let Some(dep) = position(dependency) else {
                return Err(SeedError::UnknownDependency {
                    schema: seed.schema().to_owned(),
                    dependency: (*dependency).to_owned(),
                    registered: registered(),
                });
            };
            deps.push(dep);
        }
        edges.push(deps);
    }

    // Kahn's algorithm, always taking the ready schema with the smallest name.
    let mut order = Vec::with_capacity(seeds.len());
    let mut done = vec![false; seeds.len()];
    while order.len() < seeds.len() {
        let ready = (0..seeds.len())
            .filter(|&i| !done[i] && edges[i].iter().all(|&dep| done[dep]))
            .min_by_key(|&i| names[i]);
        match ready {
            Some(next) => {
                done[next] = true;
                order.push(next);
            }
            None => {
                return Err(SeedError::Cycle {
                    cycle: describe_cycle(&names, &edges, &done),
                });
            }
        }
    }

    let Some(only) = only else {
        return Ok(order);
    };
    let target = position(only).ok_or_else(|| SeedError::UnknownSchema {
        schema: only.to_owned(),
        registered: registered(),
    })?;
    let needed = closure(&edges, target);
    Ok(order
        .into_iter()
        .filter(|index| needed.contains(index))
        .collect())
}

/// `schema` and every schema it depends on, transitively.
pub fn closure_of(seeds: &[Box<dyn SchemaSeed>], schema: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut stack = vec![schema.to_owned()];
    while let Some(name) = stack.pop() {
        if !found.insert(name.clone()) {
            continue;
        }
        if let Some(seed) = seeds.iter().find(|seed| seed.schema() == name) {
            stack.extend(seed.depends_on().iter().map(|dep| (*dep).to_owned()));
        }
    }
    found
}

fn closure(edges: &[Vec<usize>], start: usize) -> BTreeSet<usize> {
    let mut found = BTreeSet::new();
    let mut stack = vec![start];
    while let Some(index) = stack.pop() {
        if found.insert(index) {
            stack.extend(edges[index].iter().copied());
        }
    }
    found
}

/// "academy -> talent -> academy": walks dependencies among the schemas the
/// sort could not place until one repeats.
fn describe_cycle(names: &[&str], edges: &[Vec<usize>], done: &[bool]) -> String {
    let Some(start) = (0..names.len()).find(|&i| !done[i]) else {
        return String::new();
    };
    let mut path = vec![start];
    let mut current = start;
    while let Some(&next) = edges[current].iter().find(|&&dep| !done[dep]) {
        if let Some(seen) = path.iter().position(|&p| p == next) {
            let mut cycle: Vec<&str> = path[seen..].iter().map(|&i| names[i]).collect();
            cycle.push(names[next]);
            return cycle.join(" -> ");
        }
        path.push(next);
        current = next;
    }
    path.iter()
        .map(|&i| names[i])
        .collect::<Vec<_>>()
        .join(" -> ")
}

#[cfg(test)]
mod tests {
    use schema_core::seeding::{Profile, TableSeed};

    use super::*;

    struct Named(&'static str, &'static [&'static str]);

    impl SchemaSeed for Named {
        fn schema(&self) -> &'static str {
            self.0
        }

        fn depends_on(&self) -> &'static [&'static str] {
            self.1
        }

        fn tables(&self, _: &Profile) -> Vec<TableSeed> {
            Vec::new()
        }
    }

    fn seeds(list: &[(&'static str, &'static [&'static str])]) -> Vec<Box<dyn SchemaSeed>> {
        list.iter()
            .map(|&(name, deps)| Box::new(Named(name, deps)) as Box<dyn SchemaSeed>)
            .collect()
    }

    /// (what, registered seeds, `--schema`, the order or a piece of the error)
    #[allow(clippy::type_complexity)]
    const CASES: &[(
        &str,
        &[(&str, &[&str])],
        Option<&str>,
        Result<&[&str], &str>,
    )] = &[
        ("nothing registered", &[], None, Ok(&[])),
        ("one schema", &[("core", &[])], None, Ok(&["core"])),
        (
            "ties go by name, not registration",
            &[("zeta", &[]), ("beta", &[]), ("alpha", &[])],
            None,
            Ok(&["alpha", "beta", "zeta"]),
        ),
        (
            "dependencies first, whatever the registration order",
            &[("c", &["b"]), ("b", &["a"]), ("a", &[])],
            None,
            Ok(&["a", "b", "c"]),
        ),
        (
            "a dependency beats a smaller name",
            &[("aardvark", &["zoo"]), ("zoo", &[])],
            None,
            Ok(&["zoo", "aardvark"]),
        ),
        (
            "diamond",
            &[("d", &["b", "c"]), ("c", &["a"]), ("b", &["a"]), ("a", &[])],
            None,
            Ok(&["a", "b", "c", "d"]),
        ),
        (
            "the workspace",
            &[
                ("academy", &["core"]),
                ("core", &[]),
                ("talent", &["core"]),
                ("vacancy", &["core", "talent"]),
            ],
            None,
            Ok(&["core", "academy", "talent", "vacancy"]),
        ),
        (
            "--schema brings its dependencies, transitively",
            &[
                ("academy", &["core"]),
                ("core", &[]),
                ("talent", &["core"]),
                ("vacancy", &["core", "talent"]),
            ],
            Some("vacancy"),
            Ok(&["core", "talent", "vacancy"]),
        ),
        (
            "--schema of a root is just the root",
            &[("academy", &["core"]), ("core", &[])],
            Some("core"),
            Ok(&["core"]),
        ),
        (
            "--schema of an unknown schema",
            &[("core", &[])],
            Some("billing"),
            Err("no seeds for schema `billing` (known: core)"),
        ),
        (
            "registered twice",
            &[("core", &[]), ("academy", &["core"]), ("core", &[])],
            None,
            Err("schema `core` has seeds registered twice"),
        ),
        (
            "unknown dependency",
            &[("core", &[]), ("academy", &["core", "billing"])],
            None,
            Err("`academy` declares a dependency on `billing`"),
        ),
        (
            "two-schema cycle",
            &[("core", &[]), ("a", &["core", "b"]), ("b", &["a"])],
            None,
            Err("a cycle: a -> b -> a"),
        ),
        (
            "self-dependency",
            &[("a", &["a"])],
            None,
            Err("a cycle: a -> a"),
        ),
        (
            "a cycle is refused even when --schema avoids it",
            &[("core", &[]), ("x", &["y"]), ("y", &["x"])],
            Some("core"),
            Err("a cycle: x -> y -> x"),
        ),
    ];

    #[test]
    fn order_table() {
        for (what, registered, only, expected) in CASES {
            let seeds = seeds(registered);
            let got = resolve(&seeds, *only).map(|order| {
                order
                    .into_iter()
                    .map(|i| seeds[i].schema())
                    .collect::<Vec<_>>()
            });
            match (got, expected) {
                (Ok(order), Ok(expected)) => assert_eq!(order, *expected, "{what}"),
                (Err(err), Err(piece)) => {
                    assert!(err.to_string().contains(piece), "{what}: {err}")
                }
                (got, expected) => panic!("{what}: got {got:?}, expected {expected:?}"),
            }
        }
    }

    #[test]
    fn closure_table() {
        let seeds = seeds(&[
            ("academy", &["core"]),
            ("core", &[]),
            ("talent", &["core"]),
            ("vacancy", &["core", "talent"]),
        ]);
        for (schema, expected) in [
            ("core", &["core"][..]),
            ("academy", &["academy", "core"]),
            ("vacancy", &["core", "talent", "vacancy"]),
            ("billing", &["billing"]),
        ] {
            let got: Vec<String> = closure_of(&seeds, schema).into_iter().collect();
            assert_eq!(got, expected, "{schema}");
        }
    }
}
