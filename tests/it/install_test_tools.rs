//! scripts/install-test-tools (run first by scripts/test, the README's test
//! command): on a machine without Prometheus, Node or jsonnet, it installs exactly the
//! missing Debian packages, so the test command passes with nothing
//! installed by hand. Run here with a stand-in apt-get on a PATH that holds
//! only what the script needs.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Command;

fn executable(path: &Path, script: &str) {
    std::fs::write(path, script).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Runs the script with only `bin` on PATH.
fn run_with(bin: &Path) -> std::process::Output {
    Command::new("/bin/bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/install-test-tools"))
        .env_clear()
        .env("PATH", bin)
        .output()
        .unwrap()
}

#[test]
fn installs_only_the_missing_packages() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    for tool in ["sort", "tr", "id"] {
        let found = ["/usr/bin", "/bin"].iter().map(|d| Path::new(d).join(tool)).find(|p| p.exists()).unwrap();
        std::os::unix::fs::symlink(found, bin.join(tool)).unwrap();
    }
    let log = dir.path().join("apt-get.log");
    executable(&bin.join("apt-get"), &format!("#!/bin/sh\necho \"$*\" >> {}\n", log.display()));
    // Node is there already; Prometheus and npm are not.
    executable(&bin.join("node"), "#!/bin/sh\n");
    let out = run_with(&bin);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let root = Command::new("id").arg("-u").output().unwrap().stdout == b"0\n";
    if root {
        assert!(out.status.success(), "{stderr}");
        let calls = std::fs::read_to_string(&log).unwrap();
        assert_eq!(calls, "update -qq\ninstall -y -qq jsonnet npm prometheus\n", "{calls}");
    } else {
        assert_eq!(out.status.code(), Some(1));
        assert!(stderr.contains("apt-get install jsonnet npm prometheus"), "{stderr}");
        assert!(!log.exists(), "nothing installed without root");
    }
}

#[test]
fn does_nothing_when_everything_is_there() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    for tool in ["prometheus", "promtool", "node", "npm", "jsonnet"] {
        executable(&bin.join(tool), "#!/bin/sh\n");
    }
    executable(&bin.join("apt-get"), "#!/bin/sh\nexit 7\n");
    let out = run_with(&bin);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
