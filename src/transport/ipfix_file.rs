//! The IPFIX file output (RFC 5655): every IPFIX message written as it is, one after
//! another, buffered; counts what it wrote and what it could not.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

/// An RFC 5655 file being written. An IPFIX file is a plain stream of messages, each
/// carrying its own length, so there is no file header and no framing (RFC 5655 §6).
/// Shared by every thread: one lock, held for a buffered copy.
#[derive(Debug)]
pub struct IpfixFileWriter {
    out: Mutex<BufWriter<File>>,
    messages: AtomicU64,
    bytes: AtomicU64,
    write_errors: AtomicU64,
}

impl IpfixFileWriter {
    /// Creates (truncates) `path`.
    pub fn create(path: &Path) -> io::Result<Self> {
        Ok(IpfixFileWriter {
            out: Mutex::new(BufWriter::new(File::create(path)?)),
            messages: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            write_errors: AtomicU64::new(0),
        })
    }

    /// Appends one IPFIX message (counted as written, or as a write error).
    pub fn write_message(&self, message: &[u8]) -> io::Result<()> {
        let written = match self.out.lock() {
            Ok(mut o) => o.write_all(message),
            Err(_) => Err(io::Error::other("IPFIX file writer poisoned")),
        };
        match &written {
            Ok(()) => {
                self.messages.fetch_add(1, Relaxed);
                self.bytes.fetch_add(message.len() as u64, Relaxed);
            }
            Err(_) => {
                self.write_errors.fetch_add(1, Relaxed);
            }
        }
        written
    }

    /// Writes buffered messages to the file.
    pub fn flush_to_disk(&self) -> io::Result<()> {
        match self.out.lock() {
            Ok(mut o) => o.flush(),
            Err(_) => Err(io::Error::other("IPFIX file writer poisoned")),
        }
    }

    /// Messages written so far.
    pub fn messages(&self) -> u64 {
        self.messages.load(Relaxed)
    }

    /// Bytes of those messages.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Relaxed)
    }

    /// Messages that could not be written (disk full, ...). Writes are buffered: an error
    /// shows on the write that empties the buffer, or on `flush_to_disk`.
    pub fn write_errors(&self) -> u64 {
        self.write_errors.load(Relaxed)
    }
}

impl Drop for IpfixFileWriter {
    fn drop(&mut self) {
        let _ = self.flush_to_disk();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_follow_one_another_unframed() {
        let path =
            std::env::temp_dir().join(format!("vpp-ipfix-file-{}.ipfix", std::process::id()));
        let w = IpfixFileWriter::create(&path).unwrap();
        w.write_message(&[0, 10, 0, 4]).unwrap();
        w.write_message(&[0, 10, 0, 5, 9]).unwrap();
        w.flush_to_disk().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), [0, 10, 0, 4, 0, 10, 0, 5, 9]);
        assert_eq!((w.messages(), w.bytes(), w.write_errors()), (2, 9, 0));
        drop(w);
        let _ = std::fs::remove_file(&path);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn write_errors_are_counted() {
        // /dev/full takes opens and fails every write with ENOSPC.
        let Ok(w) = IpfixFileWriter::create(Path::new("/dev/full")) else {
            return;
        };
        // The buffer hides the error until it fills or is flushed.
        let big = vec![0u8; 64 * 1024];
        assert!(w.write_message(&big).is_err());
        assert_eq!((w.messages(), w.write_errors()), (0, 1));
        assert!(w.flush_to_disk().is_ok(), "nothing left buffered");
    }
}
