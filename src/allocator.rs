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
//! when freed. An operator's own `MALLOC_ARENA_MAX` or `GLIBC_TUNABLES`
//! wins. Other C libraries (the static musl release) are left as they are.

/// The largest allocation served from the arena; larger ones are mapped
/// on their own and unmapped when freed (a 64 KiB scrape frame stays in
/// the arena: mapping each would cost a system call per frame).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const OWN_MAPPING_FROM: i32 = 128 * 1024;

/// Sets glibc's malloc to return freed memory, unless the environment
/// already configures it. Call it first thing in `main`, before any thread
/// starts.
pub fn return_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        if std::env::var_os("MALLOC_ARENA_MAX").is_some() || std::env::var_os("GLIBC_TUNABLES").is_some() {
            return;
        }
        // SAFETY: mallopt only sets malloc's parameters (glibc documents it
        // as thread-safe); no pointer is passed and none is returned.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 1);
            libc::mallopt(libc::M_MMAP_THRESHOLD, OWN_MAPPING_FROM);
            libc::mallopt(libc::M_TRIM_THRESHOLD, OWN_MAPPING_FROM);
        }
    }
}
