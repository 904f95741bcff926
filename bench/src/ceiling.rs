//! The crypto ceiling: how fast one core seals with AES-256-GCM (`ring`, the
//! cipher of the dossier chunks and of the session) on 64 KiB chunks, in
//! this process. The bulk throughput is compared with it.

use std::time::{Duration, Instant};

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};

use crate::figures::mib_per_s;

/// The chunk size sealed.
pub(crate) const CHUNK: usize = 64 * 1024;

/// Seals 64 KiB chunks on this thread for about `duration`; MiB/s.
pub(crate) fn seal_throughput(duration: Duration) -> Result<f64, String> {
    let key = UnboundKey::new(&AES_256_GCM, &[0x42; 32])
        .map(LessSafeKey::new)
        .map_err(|_| "ring refused an AES-256-GCM key".to_owned())?;
    let mut buf = vec![0x5au8; CHUNK];
    let mut sealed: u64 = 0;
    let mut counter: u64 = 0;
    // A few chunks to warm the caches and the CPU's clock up.
    for _ in 0..16 {
        seal_one(&key, &mut counter, &mut buf)?;
    }
    let started = Instant::now();
    while started.elapsed() < duration {
        // Several chunks between two looks at the clock.
        for _ in 0..16 {
            seal_one(&key, &mut counter, &mut buf)?;
            sealed += CHUNK as u64;
        }
    }
    Ok(mib_per_s(sealed, started.elapsed()))
}

fn seal_one(key: &LessSafeKey, counter: &mut u64, buf: &mut [u8]) -> Result<(), String> {
    *counter += 1;
    let mut nonce = [0u8; 12];
    nonce[4..].copy_from_slice(&counter.to_be_bytes());
    let tag = key
        .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), buf)
        .map_err(|_| "AES-256-GCM sealing failed".to_owned())?;
    let _ = std::hint::black_box(tag);
    Ok(())
}

/// Whether the CPU announces AES instructions (`aes` in `/proc/cpuinfo`).
pub(crate) fn cpu_has_aes() -> Option<bool> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let flags = info
        .lines()
        .find(|l| l.starts_with("flags") || l.starts_with("Features"))?;
    Some(flags.split_whitespace().any(|f| f == "aes"))
}

/// The CPU's model name, from `/proc/cpuinfo`.
pub(crate) fn cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    info.lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, m)| m.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_something() {
        let rate = seal_throughput(Duration::from_millis(20)).expect("seal");
        assert!(rate > 0.0);
    }
}
