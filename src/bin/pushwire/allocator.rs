//! The allocator's one setting that matters for a memory budget. glibc's `malloc` raises its
//! mmap threshold to the size of each large block freed (up to 32 MiB), after which large blocks
//! — events of hundreds of KiB, write queues — come from the heap, whose freed middle is not
//! given back: measured on `tests/memory_attack.rs` (64 MiB budget), peak RSS 114–120 MiB with
//! the moving threshold, 81–82 MiB with it fixed at its default of 128 KiB. A fixed threshold
//! keeps every block of 128 KiB or more in its own mapping, returned to the system when freed.

/// Fixes glibc's mmap threshold at 128 KiB (other platforms: nothing to do).
pub fn fix_mmap_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            fn mallopt(param: i32, value: i32) -> i32;
        }
        /// glibc's `M_MMAP_THRESHOLD` (malloc.h).
        const M_MMAP_THRESHOLD: i32 = -3;
        // SAFETY: `mallopt` is glibc's, takes two integers and only changes the allocator's
        // parameters; it is called once, before any other thread exists.
        unsafe {
            mallopt(M_MMAP_THRESHOLD, 128 * 1024);
        }
    }
}
