//! Start-up work-around for glibc bug 30994: on AMD Zen 3/4 CPUs, glibc
//! before 2.40 copies blocks of 2 KiB and more with `rep movsb`, which these
//! cores run up to ~10x slower than the vector loop when source and
//! destination are aligned differently. Every large body passes through such
//! copies: rustls copies each 16 KiB record's plaintext into its buffer
//! before encrypting it, hyper copies request bodies into its read buffer.
//! Measured on this project's 2-core AMD EPYC CI machine (Debian 12, glibc
//! 2.36): a 16 KiB `memcpy` loop over page-cache pages ran at 1.0-1.7 GB/s
//! with the default and at 10-13 GB/s without `rep movsb`; the HTTPS 64 MiB
//! GET (benches/tls.rs) went from 584 to 1,112 MiB/s.
//!
//! glibc 2.40 makes the same choice itself (it stops using `rep movsb` below
//! the non-temporal threshold on Zen 3 and later). On older glibc the only
//! switch is the `glibc.cpu.x86_rep_movsb_threshold` tunable, which the
//! dynamic loader reads from `GLIBC_TUNABLES` before `main` runs. So
//! [`apply`], called first thing in `main`, re-executes the binary once with
//! the tunable added (same PID, arguments, environment otherwise, and
//! descriptors; about a millisecond). It does nothing when the tunable is already set (so the
//! re-executed process goes on), on other CPUs and C libraries, on glibc
//! 2.40 and later, and when `LOCALCOS_KEEP_MEMCPY` is set. No crate does this:
//! it is a property of the process's C library, not of any Rust code.

/// The tunable and the value that turns `rep movsb` off for every size (the
/// vector loop, and non-temporal stores above glibc's threshold, remain).
const TUNABLE: &str = "glibc.cpu.x86_rep_movsb_threshold";
const VALUE: &str = "18446744073709551615";

/// The `GLIBC_TUNABLES` value to re-execute with, or `None` to go on as is:
/// `amd` is the CPU vendor check, `glibc` the C library's version ("2.36"),
/// `current` the present `GLIBC_TUNABLES`.
pub fn tunables_for(amd: bool, glibc: &str, current: Option<&str>) -> Option<String> {
    if !amd || current.is_some_and(|c| c.contains(TUNABLE)) {
        return None;
    }
    let mut parts = glibc.split('.').map(|p| p.parse::<u32>().ok());
    let (major, minor) = (parts.next().flatten()?, parts.next().flatten()?);
    if (major, minor) >= (2, 40) {
        return None;
    }
    Some(match current.filter(|c| !c.is_empty()) {
        Some(c) => format!("{c}:{TUNABLE}={VALUE}"),
        None => format!("{TUNABLE}={VALUE}"),
    })
}

/// Re-executes the process with the tunable when [`tunables_for`] says so.
/// Call it before any thread starts; returns when nothing is to be done or
/// the exec failed (the process then runs with glibc's default).
pub fn apply() {
    #[cfg(all(target_os = "linux", target_env = "gnu", target_arch = "x86_64"))]
    {
        use std::os::unix::process::CommandExt;
        if std::env::var_os("LOCALCOS_KEEP_MEMCPY").is_some() {
            return;
        }
        let current = std::env::var("GLIBC_TUNABLES").ok();
        if current.as_deref().is_some_and(|c| c.contains(TUNABLE)) {
            return;
        }
        let amd = std::fs::read_to_string("/proc/cpuinfo").is_ok_and(|t| {
            t.lines()
                .take(8)
                .any(|l| l.starts_with("vendor_id") && l.contains("AuthenticAMD"))
        });
        // SAFETY: gnu_get_libc_version returns a static NUL-terminated string.
        let glibc = unsafe { std::ffi::CStr::from_ptr(libc::gnu_get_libc_version()) };
        let Some(value) = tunables_for(amd, &glibc.to_string_lossy(), current.as_deref()) else {
            return;
        };
        // The binary's real path (not /proc/self/exe, which would show as
        // `exe` in ps); a binary replaced since it started fails to exec.
        let Ok(exe) = std::env::current_exe() else {
            return;
        };
        let mut args = std::env::args_os();
        let Some(arg0) = args.next() else { return };
        // exec only returns on failure; the process then goes on unchanged.
        let _ = std::process::Command::new(exe)
            .arg0(arg0)
            .args(args)
            .env("GLIBC_TUNABLES", value)
            .exec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_amd_with_old_glibc_and_no_setting_yet() {
        let want = format!("{TUNABLE}={VALUE}");
        assert_eq!(tunables_for(true, "2.36", None), Some(want.clone()));
        assert_eq!(tunables_for(true, "2.39", Some("")), Some(want));
        assert_eq!(tunables_for(false, "2.36", None), None);
        assert_eq!(tunables_for(true, "2.40", None), None);
        assert_eq!(tunables_for(true, "3.0", None), None);
        assert_eq!(tunables_for(true, "unknown", None), None);
        // Already set (by the user, or by the first exec): never again.
        assert_eq!(
            tunables_for(true, "2.36", Some("glibc.cpu.x86_rep_movsb_threshold=4096")),
            None
        );
        // Other tunables are kept.
        assert_eq!(
            tunables_for(true, "2.36", Some("glibc.malloc.arena_max=2")),
            Some(format!("glibc.malloc.arena_max=2:{TUNABLE}={VALUE}"))
        );
    }
}
