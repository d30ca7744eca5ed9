//! Colours for the consoles' branding: an operator's accent colour, and the text and link colours
//! that keep WCAG 2.2 AA contrast (4.5:1 for text) against it and against each theme's background,
//! whatever colour the operator picked.

/// An sRGB colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

/// The contrast WCAG 2.2 AA asks of normal text.
pub const AA_TEXT: f64 = 4.5;

pub const WHITE: Rgb = Rgb(255, 255, 255);
pub const BLACK: Rgb = Rgb(0, 0, 0);

impl Rgb {
    /// `#rrggbb` or `#rgb`, case-insensitive.
    pub fn parse(s: &str) -> Option<Self> {
        let hex = s.trim().strip_prefix('#')?;
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let channel = |h: &str| u8::from_str_radix(h, 16).ok();
        match hex.len() {
            6 => Some(Self(channel(&hex[0..2])?, channel(&hex[2..4])?, channel(&hex[4..6])?)),
            3 => {
                let short = |i: usize| channel(&hex[i..=i]).map(|v| v * 17);
                Some(Self(short(0)?, short(1)?, short(2)?))
            }
            _ => None,
        }
    }

    #[must_use]
    pub fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }

    /// Relative luminance as WCAG defines it.
    #[must_use]
    pub fn luminance(self) -> f64 {
        let lin = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.040_45 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) }
        };
        0.2126 * lin(self.0) + 0.7152 * lin(self.1) + 0.0722 * lin(self.2)
    }

    /// The contrast ratio between two colours, 1 to 21.
    #[must_use]
    pub fn contrast(self, other: Self) -> f64 {
        let (a, b) = (self.luminance(), other.luminance());
        let (hi, lo) = if a > b { (a, b) } else { (b, a) };
        (hi + 0.05) / (lo + 0.05)
    }

    /// Mixed towards `target` by `t` (0 = self, 1 = target).
    #[must_use]
    pub fn mix(self, target: Self, t: f64) -> Self {
        let m = |a: u8, b: u8| {
            let v = f64::from(a) + (f64::from(b) - f64::from(a)) * t.clamp(0.0, 1.0);
            // In 0..=255 by construction.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let v = v.round().clamp(0.0, 255.0) as u8;
            v
        };
        Self(m(self.0, target.0), m(self.1, target.1), m(self.2, target.2))
    }
}

/// The text colour to put on an `accent` background (a button): black or white, whichever contrasts
/// more. One of them always reaches 4.5:1, since no colour is far from both.
#[must_use]
pub fn text_on(accent: Rgb) -> Rgb {
    if accent.contrast(BLACK) >= accent.contrast(WHITE) { BLACK } else { WHITE }
}

/// `accent`, moved as little as needed towards black or white (away from `background`) until it
/// reaches `min` contrast with `background`, for links and focus rings drawn in the accent colour.
#[must_use]
pub fn readable_on(accent: Rgb, background: Rgb, min: f64) -> Rgb {
    if accent.contrast(background) >= min {
        return accent;
    }
    let away = if background.luminance() > 0.18 { BLACK } else { WHITE };
    // 100 steps of 1 %: the end (pure black or white) always passes against a light or dark background.
    (1..=100).map(|i| accent.mix(away, f64::from(i) / 100.0)).find(|c| c.contrast(background) >= min).unwrap_or(away)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_long_and_short_forms_and_refuses_others() {
        assert_eq!(Rgb::parse("#0B5CAD"), Some(Rgb(11, 92, 173)));
        assert_eq!(Rgb::parse("#fff"), Some(WHITE));
        for bad in ["0b5cad", "#0b5ca", "#ggg", "", "#0b5cad0", "red"] {
            assert_eq!(Rgb::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn contrast_matches_wcag_reference_values() {
        assert!((WHITE.contrast(BLACK) - 21.0).abs() < 1e-9);
        assert!((Rgb(0x77, 0x77, 0x77).contrast(WHITE) - 4.48).abs() < 0.01);
    }

    #[test]
    fn every_accent_gets_aa_text_and_readable_links_on_both_themes() {
        let light = WHITE;
        let dark = Rgb(0x12, 0x14, 0x18);
        for r in (0..=255).step_by(17) {
            for g in (0..=255).step_by(17) {
                for b in (0..=255).step_by(17) {
                    let accent = Rgb(r, g, b);
                    assert!(accent.contrast(text_on(accent)) >= AA_TEXT, "{}", accent.hex());
                    assert!(readable_on(accent, light, AA_TEXT).contrast(light) >= AA_TEXT, "{}", accent.hex());
                    assert!(readable_on(accent, dark, AA_TEXT).contrast(dark) >= AA_TEXT, "{}", accent.hex());
                }
            }
        }
    }

    #[test]
    fn an_accent_that_already_passes_is_kept() {
        let navy = Rgb(11, 92, 173);
        assert_eq!(readable_on(navy, WHITE, AA_TEXT), navy);
    }
}
