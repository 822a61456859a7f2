//! `web/dist` is built by `npm --prefix web run build` and is not in git. So that
//! `cargo build` works on a fresh clone, a placeholder page takes its place until then.

use std::fs;
use std::path::Path;

const PLACEHOLDER: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Breeze</title></head>
<body>
<h1>The web console was not built</h1>
<p>The server is running, but its web console was compiled in before the console itself was built.</p>
<p>Run <code>make run</code>, or <code>npm --prefix web ci &amp;&amp; npm --prefix web run build</code>
and then build the server again (<code>cargo build</code>).</p>
<p>The API answers under <a href="/api/docs">/api/docs</a>.</p>
</body>
</html>
"#;

fn main() {
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web/dist");
    let index = dist.join("index.html");
    if !index.exists() {
        if let Err(e) = fs::create_dir_all(&dist).and_then(|()| fs::write(&index, PLACEHOLDER)) {
            println!(
                "cargo::error=cannot write the placeholder {}: {e}",
                index.display()
            );
        }
        println!(
            "cargo::warning=web/dist was missing: embedding a placeholder page (run `npm --prefix web ci && npm --prefix web run build`)"
        );
    }
    // Rebuild (re-embed) whenever the console is rebuilt.
    println!("cargo::rerun-if-changed=../../web/dist");
    println!("cargo::rerun-if-changed=build.rs");
}
