//! Handing memory the process has freed back to the system.

/// Start-up builds large structures it drops again (the OpenAPI document before it is
/// serialized once, the provider files' parse trees, the migrations); glibc's allocator keeps
/// the pages they freed resident, mid-heap, until it is asked to give them back. Called once
/// the server is ready to serve, so idle memory is what the server holds, not what it held.
pub fn return_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own arenas and takes nothing from the caller; it is
    // safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}
