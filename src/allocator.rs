//! The process's allocator settings for the network's buffers (glibc on Linux; elsewhere nothing).
//!
//! glibc serves every allocation over 32 MiB with a fresh `mmap`, which the kernel zeroes page by page
//! on first touch and unmaps on free: a whole-case forward makes hundreds of such tensors, and a
//! quarter of its time went to page faults (`perf`, benches/README.md). [`keep_buffers`] has large
//! allocations come from the heap and keeps freed heap memory for the next tensor; long-running
//! processes (the app) call [`hand_back`] after a case's first inference so that its memory is not
//! held while the user reads.

/// Large allocations from the heap, freed memory kept for reuse. Call once, first thing in `main`.
pub fn keep_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes glibc's allocation policy; called before any other thread runs.
    unsafe {
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, libc::c_int::MAX);
    }
}

/// Hands the heap's free memory back to the system: the app calls it after a case's first inference
/// (whose forward buffers are the largest), not after each modality switch (whose buffers the next
/// switch reuses).
pub fn hand_back() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory of glibc's heaps; no pointer is touched.
    unsafe {
        libc::malloc_trim(0);
    }
}
