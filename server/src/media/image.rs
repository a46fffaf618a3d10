//! The gatekeeper for uploaded photos: what the bytes really are, whether they may be decoded,
//! and the clean copies we keep.
//!
//! Nothing the client sent is stored as sent. The real type is read from the bytes (the name
//! and the `Content-Type` are ignored); only JPEG, PNG and WebP are decoded, with the `image`
//! crate's pure-Rust decoders. The dimensions are read from the header and checked before any
//! pixel is decoded, and the decoder runs under `image::Limits`, so a small file that claims a
//! huge picture (a decompression bomb) is refused without allocating it. The decoded pixels are
//! turned upright (EXIF orientation), scaled to fit [`MAX_SIDE`] and encoded afresh as JPEG (or
//! PNG where the picture has transparency), with a [`THUMB_SIDE`] thumbnail: EXIF (GPS
//! position, camera, time), XMP, ICC profiles, comments and anything appended to the file
//! (a polyglot's second life as HTML or a script) are gone because only pixels are kept.
//!
//! HEIC/HEIF (iPhone photos) is refused with a clear message, not converted: there is no
//! maintained pure-Rust HEVC decoder, and Debian's libheif (1.15) would run C decoders with a
//! history of memory-safety bugs on every stranger's upload inside the server. Browsers hand
//! pages JPEG for `<input type=file accept="image/*">` on iOS, and the apps convert anything
//! else the browser can display to JPEG before uploading (see `store-app/src/media/upload.ts`).

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageEncoder, ImageFormat, ImageReader, Limits};

/// Largest upload accepted, in bytes.
pub const MAX_UPLOAD_BYTES: usize = 10 * 1024 * 1024;
/// Largest picture decoded, in pixels (a 48-megapixel phone photo fits).
pub const MAX_PIXELS: u64 = 50_000_000;
/// Longest side accepted by the decoder at all.
pub const MAX_DECODE_SIDE: u32 = 16_384;
/// Longest side of the stored full-size copy.
pub const MAX_SIDE: u32 = 2048;
/// Longest side of the thumbnail.
pub const THUMB_SIDE: u32 = 320;
/// JPEG quality of both stored copies.
const JPEG_QUALITY: u8 = 85;
/// What the decoder may allocate at most (a 50 MP RGBA picture is 200 MB).
const MAX_ALLOC: u64 = 256 * 1024 * 1024;

/// What the first bytes say a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    Jpeg,
    Png,
    Webp,
    /// Recognised and refused; the name is shown to the user.
    Refused(&'static str),
    Unknown,
}

impl Sniffed {
    pub fn mime(self) -> Option<&'static str> {
        match self {
            Sniffed::Jpeg => Some("image/jpeg"),
            Sniffed::Png => Some("image/png"),
            Sniffed::Webp => Some("image/webp"),
            _ => None,
        }
    }
    fn format(self) -> Option<ImageFormat> {
        match self {
            Sniffed::Jpeg => Some(ImageFormat::Jpeg),
            Sniffed::Png => Some(ImageFormat::Png),
            Sniffed::Webp => Some(ImageFormat::WebP),
            _ => None,
        }
    }
}

/// The real type of `b`, from its signature.
pub fn sniff(b: &[u8]) -> Sniffed {
    if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Sniffed::Jpeg;
    }
    if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Sniffed::Png;
    }
    if b.len() >= 12 && &b[0..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        return Sniffed::Webp;
    }
    if b.len() >= 12 && &b[4..8] == b"ftyp" {
        return match &b[8..12] {
            b"heic" | b"heix" | b"hevc" | b"hevx" | b"heim" | b"heis" | b"mif1" | b"msf1" => Sniffed::Refused("a HEIC photo"),
            b"avif" | b"avis" => Sniffed::Refused("an AVIF image"),
            _ => Sniffed::Refused("a video or MP4 file"),
        };
    }
    if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        return Sniffed::Refused("a GIF");
    }
    if b.starts_with(b"%PDF") {
        return Sniffed::Refused("a PDF document");
    }
    if b.starts_with(b"II*\0") || b.starts_with(b"MM\0*") {
        return Sniffed::Refused("a TIFF image");
    }
    if b.starts_with(b"BM") {
        return Sniffed::Refused("a BMP image");
    }
    if b.starts_with(b"PK\x03\x04") {
        return Sniffed::Refused("a ZIP archive or office document");
    }
    let text = b.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(b);
    let first = text.iter().find(|c| !c.is_ascii_whitespace());
    if first == Some(&b'<') {
        return Sniffed::Refused("HTML, SVG or XML text");
    }
    Sniffed::Unknown
}

/// Why an upload was refused; each maps to one HTTP status and a message for people.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refusal {
    #[error("the upload is empty")]
    Empty,
    #[error("photos are at most {} MB", MAX_UPLOAD_BYTES / 1024 / 1024)]
    TooLarge,
    #[error(
        "HEIC photos cannot be sent: choose JPEG in the camera settings (iPhone: Settings → Camera → Formats → Most Compatible) \
         or share the photo from the Photos app, which converts it"
    )]
    Heic,
    #[error("only JPEG, PNG and WebP photos can be sent; this file is {0}")]
    WrongType(&'static str),
    #[error("only JPEG, PNG and WebP photos can be sent; this file is not an image we recognise")]
    UnknownType,
    #[error("the photo is {width}×{height} pixels; at most {} megapixels and {MAX_DECODE_SIDE} pixels a side", MAX_PIXELS / 1_000_000)]
    TooManyPixels { width: u32, height: u32 },
    #[error("the file looks like {0} but cannot be read as one (damaged or cut short)")]
    Undecodable(&'static str),
}

/// One stored copy.
#[derive(Debug, Clone)]
pub struct Encoded {
    pub bytes: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

/// The clean copies of an accepted upload.
#[derive(Debug, Clone)]
pub struct Processed {
    /// `image/jpeg`, or `image/png` for pictures with transparency; both copies share it.
    pub mime: &'static str,
    pub full: Encoded,
    pub thumb: Encoded,
    /// The type the client sent, as sniffed.
    pub original_mime: &'static str,
}

/// Check what `bytes` is and make the clean copies. CPU-bound: run it on a blocking thread.
pub fn process(bytes: &[u8]) -> Result<Processed, Refusal> {
    if bytes.is_empty() {
        return Err(Refusal::Empty);
    }
    if bytes.len() > MAX_UPLOAD_BYTES {
        return Err(Refusal::TooLarge);
    }
    let kind = sniff(bytes);
    let (format, original_mime) = match (kind.format(), kind.mime()) {
        (Some(f), Some(m)) => (f, m),
        _ => {
            return Err(match kind {
                Sniffed::Refused("a HEIC photo") => Refusal::Heic,
                Sniffed::Refused(what) => Refusal::WrongType(what),
                _ => Refusal::UnknownType,
            })
        }
    };
    let what = match kind {
        Sniffed::Jpeg => "a JPEG photo",
        Sniffed::Png => "a PNG image",
        _ => "a WebP image",
    };
    let reader = || {
        let mut r = ImageReader::with_format(Cursor::new(bytes), format);
        let mut limits = Limits::default();
        limits.max_image_width = Some(MAX_DECODE_SIDE);
        limits.max_image_height = Some(MAX_DECODE_SIDE);
        limits.max_alloc = Some(MAX_ALLOC);
        r.limits(limits);
        r
    };
    // Header only: no pixel is decoded before the size is known to be acceptable.
    let (width, height) = match reader().into_dimensions() {
        Ok(d) => d,
        Err(image::ImageError::Limits(_)) => return Err(too_big_from_header(bytes, format)),
        Err(_) => return Err(Refusal::Undecodable(what)),
    };
    if u64::from(width) * u64::from(height) > MAX_PIXELS || width > MAX_DECODE_SIDE || height > MAX_DECODE_SIDE {
        return Err(Refusal::TooManyPixels { width, height });
    }
    let mut decoder = reader().into_decoder().map_err(|_| Refusal::Undecodable(what))?;
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| match e {
        image::ImageError::Limits(_) => Refusal::TooManyPixels { width, height },
        _ => Refusal::Undecodable(what),
    })?;
    img.apply_orientation(orientation);
    let transparent = has_transparency(&img);
    let full = fit(img, MAX_SIDE, FilterType::Lanczos3);
    let thumb = fit(full.clone(), THUMB_SIDE, FilterType::Triangle);
    let (mime, full, thumb) = if transparent {
        ("image/png", encode_png(&full)?, encode_png(&thumb)?)
    } else {
        ("image/jpeg", encode_jpeg(&full)?, encode_jpeg(&thumb)?)
    };
    Ok(Processed {
        mime,
        full,
        thumb,
        original_mime,
    })
}

/// The header's dimensions when the decoder's own limits refused them (for the message).
fn too_big_from_header(bytes: &[u8], format: ImageFormat) -> Refusal {
    let mut r = ImageReader::with_format(Cursor::new(bytes), format);
    r.no_limits();
    match r.into_dimensions() {
        Ok((width, height)) => Refusal::TooManyPixels { width, height },
        Err(_) => Refusal::TooManyPixels { width: 0, height: 0 },
    }
}

fn has_transparency(img: &DynamicImage) -> bool {
    if !img.color().has_alpha() {
        return false;
    }
    img.to_rgba8().pixels().any(|p| p.0[3] < 255)
}

/// Scale down to fit `side` × `side` (never up).
fn fit(img: DynamicImage, side: u32, filter: FilterType) -> DynamicImage {
    if img.width() <= side && img.height() <= side {
        return img;
    }
    img.resize(side, side, filter)
}

fn encode_jpeg(img: &DynamicImage) -> Result<Encoded, Refusal> {
    let rgb = img.to_rgb8();
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY)
        .encode_image(&rgb)
        .map_err(|_| Refusal::Undecodable("an image"))?;
    Ok(Encoded {
        bytes: out,
        width: rgb.width(),
        height: rgb.height(),
    })
}

fn encode_png(img: &DynamicImage) -> Result<Encoded, Refusal> {
    let rgba = img.to_rgba8();
    let mut out = Vec::new();
    PngEncoder::new(&mut out)
        .write_image(rgba.as_raw(), rgba.width(), rgba.height(), image::ExtendedColorType::Rgba8)
        .map_err(|_| Refusal::Undecodable("an image"))?;
    Ok(Encoded {
        bytes: out,
        width: rgba.width(),
        height: rgba.height(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
        let mut out = Vec::new();
        JpegEncoder::new_with_quality(&mut out, 80).encode_image(&img).unwrap();
        out
    }

    #[test]
    fn sniffing_reads_the_bytes_not_the_name() {
        assert_eq!(sniff(&jpeg(4, 4)), Sniffed::Jpeg);
        assert_eq!(sniff(b"%PDF-1.7\n..."), Sniffed::Refused("a PDF document"));
        assert_eq!(
            sniff(b"  <!doctype html><script>alert(1)</script>"),
            Sniffed::Refused("HTML, SVG or XML text")
        );
        assert_eq!(sniff(b"\0\0\0\x18ftypheic\0\0\0\0"), Sniffed::Refused("a HEIC photo"));
        assert_eq!(sniff(b"GIF89a...."), Sniffed::Refused("a GIF"));
        assert_eq!(sniff(b"hello"), Sniffed::Unknown);
    }

    #[test]
    fn big_photos_are_scaled_down_with_a_thumbnail() {
        let p = process(&jpeg(3000, 1500)).unwrap();
        assert_eq!(p.mime, "image/jpeg");
        assert_eq!((p.full.width, p.full.height), (2048, 1024));
        assert_eq!((p.thumb.width, p.thumb.height), (320, 160));
        assert_eq!(sniff(&p.thumb.bytes), Sniffed::Jpeg);
        let small = process(&jpeg(200, 100)).unwrap();
        assert_eq!((small.full.width, small.full.height), (200, 100), "never scaled up");
    }

    #[test]
    fn refusals_say_why() {
        assert_eq!(process(b"").unwrap_err(), Refusal::Empty);
        assert_eq!(process(b"%PDF-1.4 fake").unwrap_err(), Refusal::WrongType("a PDF document"));
        assert_eq!(process(b"\0\0\0\x18ftypheic\0\0\0\0").unwrap_err(), Refusal::Heic);
        let mut cut = jpeg(64, 64);
        cut.truncate(40);
        assert_eq!(process(&cut).unwrap_err(), Refusal::Undecodable("a JPEG photo"));
    }
}
