//! Reader for dlib's serialization format (`dlib/serialize.h`), the format of every model file.
//!
//! dlib writes integers as a control byte (low nibble: byte count, bit 7: sign) followed by
//! that many little-endian bytes; floats as a (mantissa, exponent) pair of such integers;
//! strings as a length then bytes; bools as ASCII `'0'`/`'1'`; DNN tensors as a version,
//! four dimensions and raw little-endian `f32`s. Nothing in the stream names its type, so
//! callers read fields in exactly the order dlib wrote them.

use crate::error::ModelError;

/// A cursor over a dlib-serialized byte buffer. Every read names what it was reading so a
/// corrupt or foreign file gives an error that points at the field.
pub(crate) struct DlibReader<'a> {
    data: &'a [u8],
    pos: usize,
    what: &'static str,
}

/// The 4-d shape of a DNN tensor: samples, channels (k), rows, columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TensorShape {
    pub n: usize,
    pub k: usize,
    pub nr: usize,
    pub nc: usize,
}

impl TensorShape {
    pub fn len(&self) -> usize {
        self.n * self.k * self.nr * self.nc
    }
}

// dlib's float_details marks non-finite values with these reserved exponents.
const EXP_INF: i64 = 32000;
const EXP_NINF: i64 = 32001;
const EXP_NAN: i64 = 32002;

impl<'a> DlibReader<'a> {
    pub fn new(data: &'a [u8], what: &'static str) -> Self {
        DlibReader { data, pos: 0, what }
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.data.len()
    }

    pub fn error(&self, detail: impl Into<String>) -> ModelError {
        ModelError::Corrupt {
            model: self.what,
            offset: self.pos,
            detail: detail.into(),
        }
    }

    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], ModelError> {
        if self.data.len() - self.pos < n {
            return Err(self.error(format!("unexpected end of file reading {n} bytes")));
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn byte(&mut self) -> Result<u8, ModelError> {
        Ok(self.bytes(1)?[0])
    }

    /// A signed integer (dlib's `pack_int`).
    pub fn int(&mut self) -> Result<i64, ModelError> {
        let ctrl = self.byte()?;
        let size = (ctrl & 0x0F) as usize;
        if size == 0 || size > 8 {
            self.pos -= 1;
            return Err(self.error(format!("bad integer control byte {ctrl:#04x}")));
        }
        let mut v: u64 = 0;
        for (i, b) in self.bytes(size)?.iter().enumerate() {
            v |= (*b as u64) << (8 * i);
        }
        let v = v as i64;
        Ok(if ctrl & 0x80 != 0 { -v } else { v })
    }

    /// A non-negative integer that must fit `usize` (sizes, counts).
    pub fn size(&mut self) -> Result<usize, ModelError> {
        let v = self.int()?;
        usize::try_from(v).map_err(|_| self.error(format!("negative size {v}")))
    }

    /// A float stored as mantissa × 2^exponent.
    pub fn float(&mut self) -> Result<f64, ModelError> {
        let mantissa = self.int()?;
        let exponent = self.int()?;
        Ok(match exponent {
            EXP_INF => f64::INFINITY,
            EXP_NINF => f64::NEG_INFINITY,
            EXP_NAN => f64::NAN,
            e if e.abs() < 4000 => mantissa as f64 * 2f64.powi(e as i32),
            e => return Err(self.error(format!("bad float exponent {e}"))),
        })
    }

    pub fn bool(&mut self) -> Result<bool, ModelError> {
        match self.byte()? {
            b'1' => Ok(true),
            b'0' => Ok(false),
            b => Err(self.error(format!("bad bool byte {b:#04x}"))),
        }
    }

    pub fn string(&mut self) -> Result<String, ModelError> {
        let n = self.size()?;
        if n > 1 << 20 {
            return Err(self.error(format!("string length {n} is implausible")));
        }
        let b = self.bytes(n)?;
        String::from_utf8(b.to_vec()).map_err(|_| self.error("string is not UTF-8"))
    }

    /// A string that must equal `expected` (dlib's per-object version tags).
    pub fn expect_tag(&mut self, expected: &[&str]) -> Result<String, ModelError> {
        let start = self.pos;
        let s = self.string()?;
        if expected.contains(&s.as_str()) {
            Ok(s)
        } else {
            self.pos = start;
            Err(self.error(format!("expected {expected:?}, found {s:?}")))
        }
    }

    pub fn expect_int(&mut self, expected: i64, field: &str) -> Result<(), ModelError> {
        let v = self.int()?;
        if v == expected {
            Ok(())
        } else {
            Err(self.error(format!("{field}: expected {expected}, found {v}")))
        }
    }

    fn shape(&mut self) -> Result<TensorShape, ModelError> {
        let n = self.size()?;
        let k = self.size()?;
        let nr = self.size()?;
        let nc = self.size()?;
        let shape = TensorShape { n, k, nr, nc };
        if shape.len() > 1 << 28 {
            return Err(self.error(format!("tensor {shape:?} is implausibly large")));
        }
        Ok(shape)
    }

    /// A `resizable_tensor` (version 2): shape then raw little-endian f32 data.
    pub fn tensor(&mut self) -> Result<(TensorShape, Vec<f32>), ModelError> {
        self.expect_int(2, "tensor version")?;
        let shape = self.shape()?;
        let raw = self.bytes(shape.len() * 4)?;
        let data = raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Ok((shape, data))
    }

    /// An `alias_tensor` (version 1): only a shape, a view into a layer's `params`.
    pub fn alias_tensor(&mut self) -> Result<TensorShape, ModelError> {
        self.expect_int(1, "alias_tensor version")?;
        self.shape()
    }

    /// A dlib `matrix<T>`: rows and columns (negated in newer files) then elements.
    pub fn float_matrix(&mut self) -> Result<(usize, usize, Vec<f32>), ModelError> {
        let (nr, nc, v) = self.float_matrix_f64()?;
        Ok((nr, nc, v.into_iter().map(|x| x as f32).collect()))
    }

    /// As [`Self::float_matrix`], keeping double precision.
    pub fn float_matrix_f64(&mut self) -> Result<(usize, usize, Vec<f64>), ModelError> {
        let nr = self.int()?.unsigned_abs() as usize;
        let nc = self.int()?.unsigned_abs() as usize;
        if nr.saturating_mul(nc) > 1 << 26 {
            return Err(self.error(format!("matrix {nr}x{nc} is implausibly large")));
        }
        let mut v = Vec::with_capacity(nr * nc);
        for _ in 0..nr * nc {
            v.push(self.float()?);
        }
        Ok((nr, nc, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ints_in_dlib_layout() {
        // 300 = 0x012C -> [2, 0x2C, 0x01]; -5 -> [0x81, 5]
        let data = [2u8, 0x2C, 0x01, 0x81, 5];
        let mut r = DlibReader::new(&data, "test");
        assert_eq!(r.int().unwrap(), 300);
        assert_eq!(r.int().unwrap(), -5);
        assert!(r.at_end());
        assert!(r.int().is_err());
    }

    #[test]
    fn reads_floats_as_mantissa_exponent() {
        // 3 * 2^-1 = 1.5 ; exponent -1 -> [0x81, 1]
        let data = [1u8, 3, 0x81, 1];
        let mut r = DlibReader::new(&data, "test");
        assert_eq!(r.float().unwrap(), 1.5);
    }

    #[test]
    fn rejects_bad_control_byte_with_offset() {
        let data = [0x0Fu8];
        let mut r = DlibReader::new(&data, "test");
        let e = r.int().unwrap_err().to_string();
        assert!(e.contains("offset 0"), "{e}");
    }
}
