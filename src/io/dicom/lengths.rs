//! A walk over a DICOM file's data elements that checks every declared length against the bytes the
//! file has, before dicom-rs reads it: dicom-rs reserves and zero-fills an element's declared length
//! (up to 4 GiB) before reading its value, so a damaged 4 KB file could cost gigabytes (found by the
//! `dicom_folder` fuzz target). The walk follows sequences and items (defined or undefined length) and
//! the fragments of encapsulated pixel data; it reads the transfer syntax from the file meta group
//! (implicit or explicit VR, little or big endian) and inflates a deflated data set within deflate's
//! 1032:1 bound first.

use std::io::Read;

/// VRs whose explicit length field is 2 bytes (PS3.5 7.1.2); every other VR, an unknown one included
/// (read as UN, as dicom-rs does), has 2 reserved bytes and a 4-byte length.
const SHORT_VRS: [&[u8; 2]; 21] = [
    b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT", b"PN",
    b"SH", b"SL", b"SS", b"ST", b"TM", b"UI", b"UL", b"US",
];
/// Binary VRs and the size of one value: a length that is not a multiple of it is malformed, and
/// dicom-rs reads only whole values of it, leaving the rest to be misread as the next element.
const VALUE_SIZES: [(&[u8; 2], u32); 14] = [
    (b"AT", 4),
    (b"FL", 4),
    (b"FD", 8),
    (b"OD", 8),
    (b"OF", 4),
    (b"OL", 4),
    (b"OV", 8),
    (b"OW", 2),
    (b"SL", 4),
    (b"SS", 2),
    (b"SV", 8),
    (b"UL", 4),
    (b"US", 2),
    (b"UV", 8),
];
const UNDEFINED: u32 = 0xFFFF_FFFF;
const ITEM: (u16, u16) = (0xFFFE, 0xE000);
const ITEM_END: (u16, u16) = (0xFFFE, 0xE00D);
const SEQUENCE_END: (u16, u16) = (0xFFFE, 0xE0DD);
const PIXEL_DATA: (u16, u16) = (0x7FE0, 0x0010);
/// Sequences nested deeper than this are refused (a real file nests a few levels).
const MAX_DEPTH: usize = 64;

/// How the data set after the meta group is encoded.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Syntax {
    explicit: bool,
    little: bool,
}

struct Walker<'a> {
    bytes: &'a [u8],
    pos: usize,
    syntax: Syntax,
}

/// Checks `bytes` (a whole DICOM Part 10 file, preamble included) element by element; the error names
/// the first element whose length the file cannot hold.
pub fn check_lengths(bytes: &[u8]) -> Result<(), String> {
    if bytes.len() < 132 || &bytes[128..132] != b"DICM" {
        return Err("it has no DICOM preamble".into());
    }
    // The meta group: explicit VR little endian, up to the first element of another group.
    let meta = Syntax {
        explicit: true,
        little: true,
    };
    let mut w = Walker {
        bytes,
        pos: 132,
        syntax: meta,
    };
    // The meta group ends where its group length (0002,0000) says, as dicom-rs reads it; without one,
    // at the first element of another group.
    let mut meta_end = None;
    if w.pos + 12 <= bytes.len() && (w.u16_at(w.pos), w.u16_at(w.pos + 2)) == (0x0002, 0x0000) {
        let (_, len, header) = w.meta_header()?;
        if len == 4 {
            let group = w.u32_at(w.pos + header) as usize;
            meta_end = Some((w.pos + header + 4).saturating_add(group).min(bytes.len()));
        }
        w.pos += header + len as usize;
    }
    let mut transfer = String::new();
    while w.pos + 4 <= bytes.len()
        && match meta_end {
            Some(end) => w.pos < end,
            None => w.u16_at(w.pos) == 0x0002,
        }
    {
        let (tag, len, header) = w.meta_header()?;
        if tag == (0x0002, 0x0010) {
            let value = &bytes[w.pos + header..w.pos + header + len as usize];
            transfer = String::from_utf8_lossy(value)
                .trim_end_matches(['\0', ' '])
                .to_string();
        }
        w.pos += header + len as usize;
    }
    let syntax = match transfer.as_str() {
        "1.2.840.10008.1.2" => Syntax {
            explicit: false,
            little: true,
        },
        "1.2.840.10008.1.2.2" => Syntax {
            explicit: true,
            little: false,
        },
        _ => meta,
    };
    if transfer == "1.2.840.10008.1.2.1.99" {
        // Deflated: the rest is a raw deflate stream, bounded by deflate's largest expansion.
        let rest = &bytes[w.pos..];
        let mut inflated = Vec::new();
        flate2::read::DeflateDecoder::new(rest)
            .take(rest.len() as u64 * 1032 + 1024)
            .read_to_end(&mut inflated)
            .map_err(|e| format!("its deflated data set is damaged ({e})"))?;
        let mut d = Walker {
            bytes: &inflated,
            pos: 0,
            syntax,
        };
        return d.elements(inflated.len(), 0, false).map(drop);
    }
    w.syntax = syntax;
    let end = bytes.len();
    w.elements(end, 0, false).map(drop)
}

/// The VR dicom-rs gives an element of implicit VR: OW for pixel and overlay data, else the standard
/// dictionary's (UN for a tag it does not know).
fn implicit_vr(tag: (u16, u16)) -> String {
    use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
    if tag == PIXEL_DATA || (tag.0 >> 8 == 0x60 && tag.1 == 0x3000) {
        return "OW".into();
    }
    dicom_dictionary_std::StandardDataDictionary
        .by_tag(dicom_core::Tag(tag.0, tag.1))
        .map_or_else(|| "UN".into(), |e| e.vr().relaxed().to_string().to_string())
}

impl Walker<'_> {
    fn u16_at(&self, at: usize) -> u16 {
        let b = [self.bytes[at], self.bytes[at + 1]];
        if self.syntax.little {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        }
    }

    fn u32_at(&self, at: usize) -> u32 {
        let b = [
            self.bytes[at],
            self.bytes[at + 1],
            self.bytes[at + 2],
            self.bytes[at + 3],
        ];
        if self.syntax.little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    }

    /// A header of the meta group, where every length is defined.
    fn meta_header(&self) -> Result<((u16, u16), u32, usize), String> {
        let (tag, len, header) = self.header()?;
        if len == UNDEFINED {
            return Err(format!(
                "meta element ({:04X},{:04X}) has an undefined length",
                tag.0, tag.1
            ));
        }
        Ok((tag, len, header))
    }

    /// The element header at `pos`: tag, declared length, header size. Refuses a header cut short
    /// and a defined length beyond the end of the bytes.
    fn header(&self) -> Result<((u16, u16), u32, usize), String> {
        let rest = self.bytes.len() - self.pos;
        if rest < 8 {
            return Err(format!(
                "an element header at byte {} is cut short",
                self.pos
            ));
        }
        let tag = (self.u16_at(self.pos), self.u16_at(self.pos + 2));
        let explicit = self.syntax.explicit && tag.0 != 0xFFFE;
        let (len, header) = if !explicit {
            (self.u32_at(self.pos + 4), 8)
        } else {
            let vr: &[u8; 2] = self.bytes[self.pos + 4..self.pos + 6].try_into().unwrap();
            if !SHORT_VRS.contains(&vr) {
                if rest < 12 {
                    return Err(format!(
                        "an element header at byte {} is cut short",
                        self.pos
                    ));
                }
                (self.u32_at(self.pos + 8), 12)
            } else {
                (self.u16_at(self.pos + 6) as u32, 8)
            }
        };
        if len != UNDEFINED && tag.0 != 0xFFFE {
            // Explicit VR: the file's; implicit VR: the dictionary's, as dicom-rs resolves it (a
            // group length (gggg,0000) of 171 bytes read as UL left 3 bytes to misread, found by
            // fuzzing).
            let implicit;
            let vr: &[u8] = if explicit {
                &self.bytes[self.pos + 4..self.pos + 6]
            } else {
                implicit = implicit_vr(tag);
                implicit.as_bytes()
            };
            if let Some((name, size)) = VALUE_SIZES.iter().find(|(v, _)| v.as_slice() == vr)
                && len % size != 0
            {
                return Err(format!(
                    "element ({:04X},{:04X}) of VR {} has {len} bytes, not a multiple of {size}",
                    tag.0,
                    tag.1,
                    String::from_utf8_lossy(name.as_slice())
                ));
            }
        }
        if len != UNDEFINED && len as usize > rest - header {
            return Err(format!(
                "element ({:04X},{:04X}) claims {len} bytes but only {} follow it",
                tag.0,
                tag.1,
                rest - header
            ));
        }
        Ok((tag, len, header))
    }

    /// True when the element's value holds items (a sequence): its VR says SQ, or (implicit VR) the
    /// value starts with an item tag.
    fn holds_items(&self, header: usize, len: u32) -> bool {
        let at = self.pos + header;
        if self.syntax.explicit && header == 12 {
            return &self.bytes[self.pos + 4..self.pos + 6] == b"SQ";
        }
        !self.syntax.explicit
            && len >= 8
            && at + 4 <= self.bytes.len()
            && (self.u16_at(at), self.u16_at(at + 2)) == ITEM
    }

    /// Elements up to `end`; in an item of undefined length (`open_item`), up to its item delimiter.
    /// Any other delimiter, or one with a length, is refused: dicom-rs would read on past it.
    fn elements(&mut self, end: usize, depth: usize, open_item: bool) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!("sequences nest more than {MAX_DEPTH} deep"));
        }
        while self.pos < end {
            let (tag, len, header) = self.header()?;
            if tag == ITEM_END || tag == SEQUENCE_END {
                if open_item && tag == ITEM_END && len == 0 {
                    self.pos += header;
                    return Ok(());
                }
                return Err(format!(
                    "a stray delimiter ({:04X},{:04X}) of length {len} at byte {}",
                    tag.0, tag.1, self.pos
                ));
            }
            let undefined = len == UNDEFINED;
            if tag == PIXEL_DATA && undefined {
                // Encapsulated pixels: items of raw fragments, then a sequence delimiter; elements
                // may follow (dicom-rs reads on).
                self.pos += header;
                self.fragments()?;
                continue;
            }
            if undefined || self.holds_items(header, len) {
                // An explicit UN of undefined length holds an implicit VR sequence.
                let saved = self.syntax;
                if undefined && header == 12 && &self.bytes[self.pos + 4..self.pos + 6] == b"UN" {
                    self.syntax.explicit = false;
                }
                self.pos += header;
                let stop = if undefined {
                    self.bytes.len()
                } else {
                    self.pos + len as usize
                };
                self.items(stop, undefined, depth + 1)?;
                self.syntax = saved;
            } else {
                self.pos += header + len as usize;
            }
        }
        Ok(())
    }

    /// The items of a sequence, up to `stop` or its delimiter.
    fn items(&mut self, stop: usize, undefined: bool, depth: usize) -> Result<(), String> {
        while self.pos < stop {
            let (tag, len, header) = self.header()?;
            self.pos += header;
            match tag {
                SEQUENCE_END => return Ok(()),
                ITEM if len == UNDEFINED => self.elements(self.bytes.len(), depth, true)?,
                ITEM => {
                    let end = self.pos + len as usize;
                    self.elements(end, depth, false)?;
                    self.pos = end;
                }
                _ => {
                    return Err(format!(
                        "a sequence holds element ({:04X},{:04X}) where an item belongs",
                        tag.0, tag.1
                    ));
                }
            }
        }
        if undefined && self.pos >= self.bytes.len() {
            return Err("a sequence of undefined length has no end".into());
        }
        Ok(())
    }

    /// The fragments of encapsulated pixel data, up to the sequence delimiter.
    fn fragments(&mut self) -> Result<(), String> {
        loop {
            let (tag, len, header) = self.header()?;
            self.pos += header;
            match tag {
                SEQUENCE_END => return Ok(()),
                ITEM if len != UNDEFINED => self.pos += len as usize,
                _ => {
                    return Err(format!(
                        "the encapsulated pixel data holds ({:04X},{:04X}) where a fragment belongs",
                        tag.0, tag.1
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file of the meta group (explicit VR LE transfer syntax) and `body`.
    fn file(body: &[u8]) -> Vec<u8> {
        file_in(b"1.2.840.10008.1.2.1\0", body)
    }

    /// A file of the meta group naming transfer syntax `ts`, and `body`.
    fn file_in(ts: &[u8], body: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 128];
        f.extend(b"DICM");
        f.extend([0x02, 0x00, 0x10, 0x00]);
        f.extend(b"UI");
        f.extend((ts.len() as u16).to_le_bytes());
        f.extend(ts);
        f.extend(body);
        f
    }

    fn element(tag: (u16, u16), vr: &[u8; 2], value: &[u8]) -> Vec<u8> {
        let mut e = Vec::new();
        e.extend(tag.0.to_le_bytes());
        e.extend(tag.1.to_le_bytes());
        e.extend(vr);
        if !SHORT_VRS.contains(&vr) {
            e.extend([0, 0]);
            e.extend((value.len() as u32).to_le_bytes());
        } else {
            e.extend((value.len() as u16).to_le_bytes());
        }
        e.extend(value);
        e
    }

    /// In implicit VR the dictionary gives the VR: Rows (0028,0010) is US, so 2 bytes pass and 3 do
    /// not; an unknown tag (UN) takes any length.
    #[test]
    fn implicit_values_are_whole_numbers_of_the_dictionarys_vr() {
        let implicit = |tag: (u16, u16), value: &[u8]| {
            let mut e = Vec::new();
            e.extend(tag.0.to_le_bytes());
            e.extend(tag.1.to_le_bytes());
            e.extend((value.len() as u32).to_le_bytes());
            e.extend(value);
            file_in(b"1.2.840.10008.1.2\0", &e)
        };
        assert!(check_lengths(&implicit((0x0028, 0x0010), &[0, 1])).is_ok());
        let e = check_lengths(&implicit((0x0028, 0x0010), &[0, 1, 2])).unwrap_err();
        assert!(e.contains("of VR US has 3 bytes"), "{e}");
        assert!(check_lengths(&implicit((0x0009, 0x1001), &[0, 1, 2])).is_ok());
    }

    #[test]
    fn whole_files_pass_and_lengths_beyond_the_end_are_refused() {
        let name = element((0x0010, 0x0010), b"PN", b"Doe^Jane");
        let pixels = element(PIXEL_DATA, b"OW", &[7u8; 16]);
        let good = file(&[name.clone(), pixels.clone()].concat());
        assert_eq!(check_lengths(&good), Ok(()));
        // The pixel data claims 1 GiB in a file of a few hundred bytes.
        let mut bomb = good.clone();
        let at = bomb.len() - 16 - 4;
        bomb[at..at + 4].copy_from_slice(&(1u32 << 30).to_le_bytes());
        let e = check_lengths(&bomb).unwrap_err();
        assert!(e.contains("(7FE0,0010) claims 1073741824 bytes"), "{e}");
        // A sequence of undefined length with one item of defined length, then its delimiter.
        let mut item = vec![0xFE, 0xFF, 0x00, 0xE0];
        item.extend((name.len() as u32).to_le_bytes());
        item.extend(&name);
        let mut seq = element((0x0008, 0x1140), b"SQ", &[]);
        let n = seq.len();
        seq[n - 4..].copy_from_slice(&UNDEFINED.to_le_bytes());
        seq.extend(&item);
        seq.extend([0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
        assert_eq!(
            check_lengths(&file(&[seq.clone(), pixels].concat())),
            Ok(())
        );
        // An item inside that claims more than the file holds.
        let mut bad = seq.clone();
        let i = n + 4;
        bad[i..i + 4].copy_from_slice(&0x7FFF_0000u32.to_le_bytes());
        assert!(
            check_lengths(&file(&bad))
                .unwrap_err()
                .contains("(FFFE,E000) claims")
        );
        // An unknown VR has a 4-byte length (dicom-rs reads it as UN): "SM" followed by the 14 of a
        // short element and then text is a length of 0x3330_3231 bytes.
        let mut odd = element((0x0008, 0x0033), b"TM", b"120403.640000 ");
        odd[4..6].copy_from_slice(b"SM");
        assert!(
            check_lengths(&file(&odd))
                .unwrap_err()
                .contains("(0008,0033) claims")
        );
        // A binary value whose length is not a whole number of values.
        let mut sl = element((0x0008, 0x0032), b"TM", b"115341.275000 ");
        sl[4..6].copy_from_slice(b"SL");
        let e = check_lengths(&file(&sl)).unwrap_err();
        assert!(e.contains("VR SL has 14 bytes, not a multiple of 4"), "{e}");
        // A delimiter where no item is open (dicom-rs reads on past it into whatever follows).
        let mut stray = vec![0xFE, 0xFF, 0x0D, 0xE0, 4, 0, 0, 0];
        stray.extend(&name);
        let e = check_lengths(&file(&stray)).unwrap_err();
        assert!(e.contains("stray delimiter (FFFE,E00D) of length 4"), "{e}");
        // A sequence never closed.
        let open = &seq[..seq.len() - 8];
        assert!(check_lengths(&file(open)).unwrap_err().contains("no end"));
        assert!(check_lengths(b"short").is_err());
    }

    #[test]
    fn no_cut_or_flipped_byte_makes_the_walk_panic() {
        let name = element((0x0010, 0x0010), b"PN", b"Doe^Jane");
        let mut seq = element((0x0008, 0x1140), b"SQ", &[]);
        let n = seq.len();
        seq[n - 4..].copy_from_slice(&UNDEFINED.to_le_bytes());
        seq.extend([0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
        seq.extend(&name);
        seq.extend([
            0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0, 0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0,
        ]);
        let good = file(&[seq, element(PIXEL_DATA, b"OW", &[7u8; 16])].concat());
        assert_eq!(check_lengths(&good), Ok(()));
        for cut in 0..good.len() {
            let _ = check_lengths(&good[..cut]);
        }
        // Every byte set to each of a few values that matter to a parser (0, 0xFF, a VR letter).
        for at in 128..good.len() {
            for v in [0x00, 0xFF, b'S', b'Q', 0xFE, 0xE0] {
                let mut bad = good.clone();
                bad[at] = v;
                let _ = check_lengths(&bad);
            }
        }
    }
}
