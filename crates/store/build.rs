//! Fails early, with a message a person can act on, when the PostgreSQL
//! client library that pq-sys links is missing (otherwise the failure is a
//! linker error deep in the build log).

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-env-changed=PQ_LIB_DIR");
    if std::env::var_os("PQ_LIB_DIR").is_some() || libpq_installed() {
        return;
    }
    panic!(
        "\n\nLibris links the PostgreSQL client library (libpq), and it was not found.\n\
         Install it: `apt-get install libpq-dev` (Debian/Ubuntu), `dnf install libpq-devel` (Fedora),\n\
         `brew install libpq` (macOS), or point PQ_LIB_DIR at the folder holding libpq.\n\n"
    );
}

fn libpq_installed() -> bool {
    let pkg_config = std::process::Command::new("pkg-config")
        .args(["--exists", "libpq"])
        .status()
        .is_ok_and(|status| status.success());
    pkg_config
        || [
            "/usr/lib/x86_64-linux-gnu",
            "/usr/lib/aarch64-linux-gnu",
            "/usr/lib64",
            "/usr/lib",
            "/usr/local/lib",
            "/opt/homebrew/opt/libpq/lib",
            "/usr/local/opt/libpq/lib",
        ]
        .iter()
        .any(|dir| {
            ["libpq.so", "libpq.dylib", "libpq.a"]
                .iter()
                .any(|file| Path::new(dir).join(file).exists())
        })
}
