//! The layer rule of ARCHITECTURE.md, checked against the code: every module of `src/` is in the
//! table of layers, and outside its tests a module uses only the modules of the rows above it and
//! those listed before it in its own row (`crate::name` anywhere in its files). The table is read
//! from ARCHITECTURE.md itself, so the document and the code cannot drift apart.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// (row, place in the row) of each module named in the table of ARCHITECTURE.md's "Layers" section.
fn layers() -> HashMap<String, (usize, usize)> {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("ARCHITECTURE.md"))
            .expect("ARCHITECTURE.md");
    let mut table = HashMap::new();
    for line in doc.lines().filter(|l| l.starts_with("| ")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let Some(row) = cells
            .get(1)
            .and_then(|c| c.split(' ').next()?.parse::<usize>().ok())
        else {
            continue;
        };
        let names = cells[2].split('`').skip(1).step_by(2);
        for (place, name) in names.enumerate() {
            table.insert(name.to_string(), (row, place));
        }
    }
    table
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src").flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The modules a file's code (its tests and comments left out) names as `crate::module`.
fn uses(text: &str) -> Vec<String> {
    let code = text.split("\n#[cfg(test)]").next().unwrap_or("");
    let mut found = Vec::new();
    for line in code.lines() {
        let line = line.split("//").next().unwrap_or("");
        for part in line.split("crate::").skip(1) {
            let name: String = part
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !found.contains(&name) {
                found.push(name);
            }
        }
    }
    found
}

#[test]
fn no_module_uses_a_layer_above_it() {
    let table = layers();
    assert!(
        table.len() > 20,
        "the table of layers was not found: {table:?}"
    );
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut wrong = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = first.trim_end_matches(".rs").to_string();
        if module == "lib" || module == "main" {
            continue;
        }
        let Some(&at) = table.get(&module) else {
            wrong.push(format!("{module} is not in the table of layers"));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for used in uses(&text) {
            // The crate root re-exports the error type.
            let used = match used.as_str() {
                "Result" | "CloeError" => "error".to_string(),
                _ => used,
            };
            if used == module {
                continue;
            }
            match table.get(&used) {
                Some(&(row, place)) if row < at.0 || (row == at.0 && place < at.1) => {}
                Some(_) => wrong.push(format!("{} uses {used}, a layer above it", rel.display())),
                None => wrong.push(format!(
                    "{} uses {used}, which is not in the table",
                    rel.display()
                )),
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "the layer rule of ARCHITECTURE.md is broken:\n{}",
        wrong.join("\n")
    );
}
