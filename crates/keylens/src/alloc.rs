//! The process's allocator, mimalloc, and the one setting an import changes in it.

/// mimalloc instead of the system allocator: reading events and building answers allocate many
/// small values, and glibc's malloc and free were a quarter of an import's samples (BENCHMARKS.md,
/// "mimalloc"). DuckDB's own allocations are unaffected.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's option `purge_delay` (`mi_option_purge_delay` in its `mimalloc.h`): how many
/// milliseconds memory freed stays with the process before it is given back to the system.
/// `libmimalloc-sys` names the options of mimalloc 1 and 2 only; in version 3, the one it builds,
/// this is the sixteenth (the test below checks it against the default).
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// How long an import keeps the memory it frees before giving it back: 10 s where mimalloc
/// waits 1 s. An import's batches are allocated on the reading thread and freed on the
/// writing one, and the re-fold's chunks come and go every second or two; with the default
/// delay, pages given back were asked for again moments later, each fault zeroing a fresh page
/// (`clear_page_erms` 9% of a re-fold's samples). At 1M licenses, six pairs in turns with the
/// build before, the import took 91.82-96.19 s against 95.26-98.19 (faster in every pair, by
/// 1.0-6.4 s), with 2.38M page faults against 2.77M and a peak RSS of 2.58-2.73 GB against
/// 2.27-2.38 (BENCHMARKS.md, "Session 31"). A server is left at the default: its memory is a
/// target of its own, and holding freed pages would raise it.
const IMPORT_PURGE_DELAY_MS: std::ffi::c_long = 10_000;

/// Makes freed memory stay with the process for [`IMPORT_PURGE_DELAY_MS`] (see there). For a
/// command that reads a whole stream and exits: the import, the demo.
pub fn hold_freed_memory() {
    // SAFETY: sets one of mimalloc's options, which it reads on each purge; no pointers.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, IMPORT_PURGE_DELAY_MS) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The option number is mimalloc 3's `purge_delay`: its default is 1,000 ms, which no
    /// neighbouring option has (`MIMALLOC_PURGE_DELAY` in the environment would change it, so
    /// the test reads the default it would fall back to).
    #[test]
    fn purge_delay_is_the_option_whose_default_is_one_second() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            panic!("unset MIMALLOC_PURGE_DELAY: this test reads mimalloc's default");
        }
        // SAFETY: reads and sets mimalloc's options; no pointers.
        let (before, after) = unsafe {
            let before = libmimalloc_sys::mi_option_get(PURGE_DELAY);
            hold_freed_memory();
            (before, libmimalloc_sys::mi_option_get(PURGE_DELAY))
        };
        assert_eq!(before, 1_000);
        assert_eq!(after, IMPORT_PURGE_DELAY_MS);
    }
}
