//! How freed memory goes back to the system. The exporter's memory is a
//! steady base (the published exposition, the kept days) plus what each
//! poll cycle holds for a moment (Gong's answers, the tables being built)
//! and each scrape holds while it is served. glibc's malloc, as it comes,
//! gives every thread its own arena and raises its mmap threshold up to
//! 32 MiB after a large buffer is freed, so those moments' pages stay
//! resident in several arenas and the peak grows with each: at 10,000
//! users the peak was 2.3 times the exposition, most of it freed pages.
//!
//! The exporter is not allocation-bound (a cycle a few times an hour, a
//! scrape every 15 s), so it trades a little allocation speed for memory:
//! one arena, and buffers from 128 KiB up mapped on their own and returned
//! when freed. An operator's own malloc settings in the environment
//! (`MALLOC_ARENA_MAX`, `MALLOC_*_`, a `glibc.malloc.*` tunable) win.
//! Other C libraries (the static musl release) are left as they are.

/// The largest allocation served from the arena; larger ones are mapped
/// on their own and unmapped when freed (a 64 KiB scrape frame stays in
/// the arena: mapping each would cost a system call per frame).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const OWN_MAPPING_FROM: i32 = 128 * 1024;

/// The environment variables through which glibc's malloc is configured
/// (mallopt(3)); `GLIBC_TUNABLES` counts when it names a malloc tunable.
const MALLOC_VARIABLES: [&str; 5] =
    ["MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_"];

/// Whether the operator configured malloc through the environment (read
/// with `var`): then none of this module's settings apply, since mallopt's
/// would override theirs.
fn configured_by_environment(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> bool {
    MALLOC_VARIABLES.iter().any(|name| var(name).is_some())
        || var("GLIBC_TUNABLES").is_some_and(|t| t.to_string_lossy().contains("glibc.malloc."))
}

/// Sets glibc's malloc to return freed memory, unless the environment
/// already configures it. Call it first thing in `main`, before any thread
/// starts.
pub fn return_freed_memory() {
    if configured_by_environment(|name| std::env::var_os(name)) {
        return;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: glibc marks mallopt MT-Unsafe (it changes malloc's
        // parameters without its lock): it is called here, first thing in
        // `main`, before any other thread exists. It takes and returns no
        // pointer.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 1);
            libc::mallopt(libc::M_MMAP_THRESHOLD, OWN_MAPPING_FROM);
            libc::mallopt(libc::M_TRIM_THRESHOLD, OWN_MAPPING_FROM);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operators_malloc_settings_win_and_other_tunables_do_not_count() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| (*v).into())
        };
        assert!(!configured_by_environment(env(&[])));
        assert!(configured_by_environment(env(&[("MALLOC_ARENA_MAX", "4")])));
        assert!(configured_by_environment(env(&[("MALLOC_TRIM_THRESHOLD_", "0")])));
        assert!(configured_by_environment(env(&[("GLIBC_TUNABLES", "glibc.malloc.arena_max=2")])));
        assert!(!configured_by_environment(env(&[("GLIBC_TUNABLES", "glibc.rtld.optional_static_tls=512")])));
    }
}
