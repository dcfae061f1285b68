//! Prints the default content-feed schema as JSON or TOML (`--toml`), with
//! `--hash` printing its content hash instead. Useful as a starting point for
//! a schema file.

fn main() {
    let schema = tidal_schema::presets::content_feed();
    let arg = std::env::args().nth(1);
    let out = match arg.as_deref() {
        Some("--toml") => schema.to_toml(),
        Some("--hash") => Ok(schema.hash().to_string()),
        _ => schema.to_json(),
    };
    match out {
        Ok(text) => println!("{text}"),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}
