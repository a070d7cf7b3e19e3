//! Links the `elixir-workers` executable as a fixed-address (non-PIE)
//! executable on Linux with glibc.
//!
//! A position-independent executable of this size carries some 23,000
//! relative relocations, which the dynamic loader applies at every start,
//! writing to about 100 pages of `.data.rel.ro` (a copy-on-write page fault
//! each): 0.3 to 0.5 ms of the 1.5 ms that `elixir-workers --version` took
//! on the 2-core VM `cargo xtask bench pack` was tuned on, and 110 of its
//! 250 page faults. Linked at a fixed address, there is nothing to
//! relocate. (Packing the relocations, `-z pack-relative-relocs`, measured
//! no faster: the pages are still written.) The cost is that the
//! executable's own code and data are not placed at a random address
//! (ASLR still moves the stack, the heap and the shared libraries).
//!
//! The code is still compiled position-independent (the default relocation
//! model), so only the link changes; the test binaries are left alone.

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
