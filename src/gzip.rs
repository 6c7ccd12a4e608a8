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

/// Builds a [`GzipHead`] from data written in pieces, so a large body is
/// compressed without ever being whole in memory.
pub struct GzipWriter {
    encoder: flate2::write::DeflateEncoder<Vec<u8>>,
    crc: crc32fast::Hasher,
    len: u64,
}

impl GzipWriter {
    /// An empty member; `capacity` is the expected compressed size.
    pub fn new(capacity: usize) -> Self {
        // Magic, deflate, no flags, no mtime, fastest, unknown OS (RFC 1952).
        let mut out = Vec::with_capacity(capacity.max(HEADER.len()));
        out.extend_from_slice(&HEADER);
        let encoder = flate2::write::DeflateEncoder::new(out, flate2::Compression::fast());
        Self { encoder, crc: crc32fast::Hasher::new(), len: 0 }
    }

    /// Compresses the next piece of data.
    pub fn write(&mut self, data: &[u8]) {
        use std::io::Write as _;
        self.encoder.write_all(data).expect("writing to a Vec cannot fail");
        self.crc.update(data);
        self.len += data.len() as u64;
    }

    /// The open member: what was written, flushed to a byte boundary.
    pub fn finish(mut self) -> GzipHead {
        use std::io::Write as _;
        // A sync flush ends on a byte boundary without a final block, so
        // more blocks can follow.
        self.encoder.flush().expect("writing to a Vec cannot fail");
        let mut bytes = std::mem::take(self.encoder.get_mut());
        bytes.shrink_to_fit();
        GzipHead { bytes: Bytes::from(bytes), crc: self.crc.finalize(), len: self.len }
    }
}

/// The fixed gzip header this module writes: deflate, no name, no time.
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 255];

impl GzipHead {
    /// Compresses `data` into the open start of a member.
    pub fn new(data: &[u8]) -> Self {
        let mut writer = GzipWriter::new(data.len() / 8);
        writer.write(data);
        writer.finish()
    }

    /// Length of the data, uncompressed.
    pub fn data_len(&self) -> u64 {
        self.len
    }

    /// The data again, decompressed a piece at a time ([`Inflate`]).
    pub fn inflate(&self) -> Inflate {
        Inflate {
            deflated: self.bytes.slice(HEADER.len().min(self.bytes.len())..),
            read: 0,
            state: flate2::Decompress::new(false),
        }
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

/// Decompresses a [`GzipHead`]'s data in pieces of a bounded size: a client
/// that does not accept gzip is served from the compressed bytes without a
/// second, uncompressed copy of the whole body.
pub struct Inflate {
    /// The deflate blocks after the header, shared with the head.
    deflated: Bytes,
    read: usize,
    state: flate2::Decompress,
}

impl Inflate {
    /// Up to `max` bytes of the data; `None` once all of it was returned.
    /// An error means the compressed bytes are corrupt (never ours).
    pub fn next_chunk(&mut self, max: usize) -> Result<Option<Bytes>, flate2::DecompressError> {
        let mut out = Vec::with_capacity(max);
        while out.len() < max {
            let (read_before, written_before) = (self.state.total_in(), out.len());
            self.state.decompress_vec(&self.deflated[self.read..], &mut out, flate2::FlushDecompress::None)?;
            self.read += usize::try_from(self.state.total_in() - read_before).expect("read from a slice");
            if self.state.total_in() == read_before && out.len() == written_before {
                break;
            }
        }
        Ok((!out.is_empty()).then(|| Bytes::from(out)))
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

    /// Data that does not repeat, so the compressed stream is long.
    fn varied(lines: usize) -> String {
        (0..lines).map(|i| format!("gong_x{{user_id=\"{}\"}} {}\n", i * 7919 % 100_003, i % 97)).collect()
    }

    #[test]
    fn written_in_pieces_is_the_same_member_as_written_whole() {
        let data = varied(50_000);
        let mut writer = GzipWriter::new(0);
        for piece in data.as_bytes().chunks(4_099) {
            writer.write(piece);
        }
        let head = writer.finish();
        assert_eq!(head.data_len(), data.len() as u64);
        assert_eq!(
            gunzip(&[head.bytes.to_vec(), head.close(b"# EOF\n")].concat()),
            format!("{data}# EOF\n").as_bytes()
        );
    }

    #[test]
    fn inflating_returns_the_data_in_bounded_pieces() {
        for data in [String::new(), "a\n".to_owned(), varied(50_000)] {
            let head = GzipHead::new(data.as_bytes());
            let mut inflate = head.inflate();
            let mut back = Vec::new();
            while let Some(chunk) = inflate.next_chunk(65_536).unwrap() {
                assert!(!chunk.is_empty() && chunk.len() <= 65_536);
                back.extend_from_slice(&chunk);
            }
            assert_eq!(back, data.as_bytes(), "{} bytes", data.len());
            assert!(inflate.next_chunk(65_536).unwrap().is_none(), "stays at the end");
        }
        // Corrupt blocks are an error, not a panic or a silent end.
        let head = GzipHead::new(varied(1_000).as_bytes());
        let mut bytes = head.bytes.to_vec();
        bytes[10] = 0xff;
        let corrupt = GzipHead { bytes: Bytes::from(bytes), ..head };
        let mut inflate = corrupt.inflate();
        assert!((0..100).map(|_| inflate.next_chunk(1_024)).any(|r| r.is_err()));
    }
}
