//! The gzip body of `/metrics`: the big data part is compressed once per
//! publish ([`GzipHead`]), and each scrape appends its few live lines
//! uncompressed, so no scrape compresses the data again and every answer is
//! still one gzip member.

use axum::body::Bytes;

/// The first part of one gzip member: the header and `data` deflated (level
/// 1: at 10,000 users the exposition is ~95 MB of repetitive text that still
/// compresses ~10x, and a publish should not take seconds), flushed to a
/// byte boundary but not finished, plus the CRC and length of `data`.
///
/// A scrape appends its few live lines as stored (uncompressed) deflate
/// blocks and the trailer ([`GzipHead::close`]): the answer is a single gzip
/// member, which every reader decodes whole (`curl --compressed` and others
/// stop after the first member), and no scrape compresses or re-reads the
/// big part.
#[derive(Debug, Clone)]
pub struct GzipHead {
    /// Header and sync-flushed deflate blocks.
    pub bytes: Bytes,
    /// CRC-32 of the uncompressed data so far.
    crc: u32,
    /// Uncompressed length so far.
    len: u64,
}

impl Default for GzipHead {
    /// Nothing published yet: a member that starts empty.
    fn default() -> Self {
        Self::new(&[])
    }
}

impl GzipHead {
    /// Compresses `data` into the open start of a member.
    pub fn new(data: &[u8]) -> Self {
        use std::io::Write as _;
        // Magic, deflate, no flags, no mtime, fastest, unknown OS (RFC 1952).
        let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 255];
        out.reserve(data.len() / 8);
        let mut encoder = flate2::write::DeflateEncoder::new(out, flate2::Compression::fast());
        encoder.write_all(data).expect("writing to a Vec cannot fail");
        // A sync flush ends on a byte boundary without a final block, so
        // more blocks can follow.
        encoder.flush().expect("writing to a Vec cannot fail");
        let bytes = std::mem::take(encoder.get_mut());
        let mut crc = crc32fast::Hasher::new();
        crc.update(data);
        Self { bytes: Bytes::from(bytes), crc: crc.finalize(), len: data.len() as u64 }
    }

    /// The whole member as two chunks: the head, shared and not copied,
    /// then `tail` closing it ([`GzipHead::close`]).
    pub fn finish(&self, tail: &[u8]) -> [Bytes; 2] {
        [self.bytes.clone(), Bytes::from(self.close(tail))]
    }

    /// The rest of the member: `tail` as stored deflate blocks (the last
    /// one final) and the gzip trailer over everything.
    pub fn close(&self, tail: &[u8]) -> Vec<u8> {
        // Stored blocks hold at most 65,535 bytes each.
        let mut out = Vec::with_capacity(tail.len() + tail.len() / 65_535 * 5 + 16);
        let mut blocks = tail.chunks(65_535).peekable();
        if blocks.peek().is_none() {
            out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
        }
        while let Some(block) = blocks.next() {
            let len = block.len() as u16;
            out.push(u8::from(blocks.peek().is_none()));
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&(!len).to_le_bytes());
            out.extend_from_slice(block);
        }
        let mut crc = crc32fast::Hasher::new_with_initial_len(self.crc, self.len);
        crc.update(tail);
        out.extend_from_slice(&crc.finalize().to_le_bytes());
        // ISIZE is the length modulo 2^32.
        out.extend_from_slice(&((self.len + tail.len() as u64) as u32).to_le_bytes());
        out
    }
}

/// `data` as one complete gzip member.
pub fn compress(data: &[u8]) -> Vec<u8> {
    let head = GzipHead::new(data);
    let mut out = head.bytes.to_vec();
    out.extend(head.close(&[]));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(bytes), &mut out).unwrap();
        out
    }

    #[test]
    fn a_closed_head_is_one_valid_member_of_data_then_tail() {
        let data = "gong_x 1\n".repeat(20_000);
        // Tails around and past one stored block's 65,535 bytes.
        for tail in [String::new(), "# EOF\n".to_owned(), "y".repeat(65_535), "z".repeat(200_000)] {
            let head = GzipHead::new(data.as_bytes());
            let mut member = head.bytes.to_vec();
            member.extend(head.close(tail.as_bytes()));
            assert_eq!(gunzip(&member), format!("{data}{tail}").into_bytes(), "tail of {}", tail.len());
        }
        // Nothing published yet still closes into a valid member.
        let empty = GzipHead::default();
        let mut member = empty.bytes.to_vec();
        member.extend(empty.close(b"# EOF\n"));
        assert_eq!(gunzip(&member), b"# EOF\n");
        assert_eq!(gunzip(&compress(b"abc")), b"abc");
    }
}
