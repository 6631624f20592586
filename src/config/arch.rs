//! Architecture names as ALT and hasher spell them.

/// Architectures hasher can build for (`hsh --target`).
pub const KNOWN: &[&str] = &[
    "x86_64",
    "i586",
    "aarch64",
    "armh",
    "ppc64le",
    "riscv64",
    "loongarch64",
    "mipsel",
    "e2k",
    "e2kv4",
    "e2kv5",
    "e2kv6",
    "e2kv7",
    "noarch",
];

/// Map a kernel `uname -m` to the ALT name (`i686` → `i586`, ...).
pub fn from_uname(machine: &str) -> String {
    match machine.trim() {
        "i386" | "i486" | "i586" | "i686" => "i586".into(),
        "armv7l" | "armv8l" | "armv7hl" => "armh".into(),
        "amd64" => "x86_64".into(),
        "arm64" => "aarch64".into(),
        "e2k" => "e2k".into(),
        other => other.to_string(),
    }
}

pub fn is_known(arch: &str) -> bool {
    KNOWN.contains(&arch)
}

/// This machine's architecture in ALT spelling.
pub fn local() -> String {
    nix::sys::utsname::uname()
        .map(|u| from_uname(&u.machine().to_string_lossy()))
        .unwrap_or_else(|_| std::env::consts::ARCH.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uname_names_map_to_alt() {
        assert_eq!(from_uname("i686"), "i586");
        assert_eq!(from_uname("armv7l"), "armh");
        assert_eq!(from_uname("x86_64\n"), "x86_64");
        assert_eq!(from_uname("riscv64"), "riscv64");
        assert!(is_known(&local()));
    }
}
