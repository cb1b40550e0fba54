//! How long a text is as an SMS, counted as GSM 03.38 (3GPP TS 23.038)
//! says, and a text made to fit its 7-bit default alphabet.
//!
//! A message whose every character is in the GSM 7-bit default alphabet is
//! sent as GSM-7: a basic-table character takes one septet, an
//! extension-table one (`^ { } \ [ ~ ] | €` and form feed) two (an escape,
//! then the character), and one segment holds 160 septets. A single
//! character outside both tables (an em dash, a curly quote, an emoji)
//! makes the whole message UCS-2, 70 UTF-16 code units a segment. A longer
//! message is split into parts of 153 septets or 67 units (the rest carries
//! the concatenation header); an escape and its character, or the two
//! halves of a surrogate pair, are never split between parts.
//!
//! Pages must arrive as one segment (parts may arrive late or out of
//! order), so [`transliterate`] turns the text from outside into GSM-7:
//! the usual typographic characters become their plain forms, accented
//! letters outside the alphabet their base letters, and anything left a
//! `?`.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::{decompose_compatible, is_combining_mark};

/// Septets in one GSM-7 segment.
pub const SEGMENT_SEPTETS: usize = 160;
/// UTF-16 code units in one UCS-2 segment.
pub const SEGMENT_UCS2_UNITS: usize = 70;
/// Septets in each part of a concatenated GSM-7 message.
const PART_SEPTETS: usize = 153;
/// UTF-16 code units in each part of a concatenated UCS-2 message.
const PART_UCS2_UNITS: usize = 67;

/// The basic table, in table order (0x00 to 0x7F) less 0x1B, the escape to
/// the extension table, which is no character of its own.
const BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
                     ¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

/// The characters of the extension table, each sent as escape + character.
const EXTENSION: &str = "\u{c}^{}\\[~]|€";

/// How a message is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Gsm7,
    Ucs2,
}

/// A text's length as an SMS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Length {
    pub encoding: Encoding,
    /// Septets for GSM-7, UTF-16 code units for UCS-2.
    pub units: usize,
    /// Segments it is sent in (an empty text is one).
    pub segments: usize,
}

/// The septets `c` takes in GSM-7: 1 (basic table), 2 (extension table), or
/// `None` when it is not in the alphabet.
pub fn septets(c: char) -> Option<usize> {
    if BASIC.contains(c) {
        Some(1)
    } else if EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// How `text` is sent: its encoding, length and number of segments.
pub fn length(text: &str) -> Length {
    let gsm: Option<Vec<usize>> = text.chars().map(septets).collect();
    let (encoding, costs, single, part) = match gsm {
        Some(costs) => (Encoding::Gsm7, costs, SEGMENT_SEPTETS, PART_SEPTETS),
        None => (
            Encoding::Ucs2,
            text.chars().map(char::len_utf16).collect(),
            SEGMENT_UCS2_UNITS,
            PART_UCS2_UNITS,
        ),
    };
    let units: usize = costs.iter().sum();
    let segments = if units <= single {
        1
    } else {
        // Fill each part, starting a new one where a character (an escape
        // pair, a surrogate pair) would not fit whole.
        let (mut segments, mut used) = (1, 0);
        for cost in costs {
            if used + cost > part {
                segments += 1;
                used = 0;
            }
            used += cost;
        }
        segments
    };
    Length {
        encoding,
        units,
        segments,
    }
}

/// `text` in the GSM 7-bit alphabet: every character of the result is in
/// the basic or the extension table. Characters already in it are kept
/// (the result of a GSM-7 text is the text); typographic ones become their
/// plain forms (dashes `-`, curly quotes `'` and `"`, an ellipsis `...`,
/// odd spaces a space, invisible ones nothing); letters with accents not in
/// the alphabet their base letter (`á` is `a`, `ç` is `c`), ligatures and
/// full-width forms their letters (Unicode's compatibility decomposition);
/// anything else `?`.
pub fn transliterate(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // Composed first, so that `e` + combining acute is the alphabet's `é`.
    for c in text.nfc() {
        if septets(c).is_some() {
            out.push(c);
        } else if let Some(plain) = plain_form(c) {
            out.push_str(plain);
        } else {
            let mut spelled = String::new();
            let mut whole = true;
            decompose_compatible(c, |d| {
                if is_combining_mark(d) {
                    // An accent: dropped, its letter stays.
                } else if septets(d).is_some() {
                    spelled.push(d);
                } else if let Some(plain) = plain_form(d) {
                    spelled.push_str(plain);
                } else {
                    whole = false;
                }
            });
            if whole {
                // Empty for a lone combining mark, which is dropped.
                out.push_str(&spelled);
            } else {
                out.push('?');
            }
        }
    }
    out
}

/// The plain GSM-7 form of a character outside the alphabet that has no
/// (useful) compatibility decomposition, or whose decomposition is not
/// the form people write.
fn plain_form(c: char) -> Option<&'static str> {
    Some(match c {
        '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{2043}' | '\u{FE58}' | '\u{FE63}' | '\u{FF0D}' => "-",
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' | '\u{2032}' | '\u{2035}' | '`' | '\u{B4}' => "'",
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' | '\u{2033}' | '\u{2036}' | '\u{AB}' | '\u{BB}' => "\"",
        '\u{2039}' => "<",
        '\u{203A}' => ">",
        '\u{2026}' => "...",
        '\t' | '\u{A0}' | '\u{1680}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}' => " ",
        '\u{85}' | '\u{2028}' | '\u{2029}' => " ",
        '\u{AD}' | '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' => "",
        '\u{2022}' | '\u{2023}' => "*",
        '\u{B7}' => ".",
        '\u{2044}' | '\u{2215}' | '\u{F7}' => "/",
        '\u{D7}' => "x",
        '\u{B1}' => "+/-",
        '\u{2264}' => "<=",
        '\u{2265}' => ">=",
        '\u{2260}' => "!=",
        '\u{2248}' => "~",
        '\u{2192}' => "->",
        '\u{2190}' => "<-",
        '\u{21D2}' => "=>",
        '\u{B0}' => "",
        '\u{B5}' | '\u{3BC}' => "u",
        '\u{A9}' => "(C)",
        '\u{AE}' => "(R)",
        '\u{A2}' => "c",
        '\u{141}' => "L",
        '\u{142}' => "l",
        '\u{110}' | '\u{D0}' => "D",
        '\u{111}' | '\u{F0}' => "d",
        '\u{126}' => "H",
        '\u{127}' => "h",
        '\u{131}' => "i",
        '\u{152}' => "OE",
        '\u{153}' => "oe",
        '\u{DE}' => "Th",
        '\u{FE}' => "th",
        '\u{14A}' => "N",
        '\u{14B}' => "n",
        '\u{166}' => "T",
        '\u{167}' => "t",
        '\u{1E9E}' => "SS",
        c if c.is_control() => " ",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn gsm(units: usize, segments: usize) -> Length {
        Length {
            encoding: Encoding::Gsm7,
            units,
            segments,
        }
    }

    fn ucs2(units: usize, segments: usize) -> Length {
        Length {
            encoding: Encoding::Ucs2,
            units,
            segments,
        }
    }

    #[test]
    fn the_tables_hold_what_the_standard_lists() {
        let basic: std::collections::BTreeSet<char> = BASIC.chars().collect();
        assert_eq!(basic.len(), 127, "128 positions less the escape");
        assert_eq!(BASIC.chars().count(), 127);
        assert_eq!(EXTENSION.chars().count(), 10);
        // Printable ASCII is in the basic table but for the backquote and
        // the six the extension table holds.
        for c in ' '..='~' {
            let expected = match c {
                '`' => None,
                '^' | '{' | '}' | '\\' | '[' | ']' | '|' | '~' => Some(2),
                _ => Some(1),
            };
            assert_eq!(septets(c), expected, "{c:?}");
        }
        assert_eq!(septets('€'), Some(2));
        assert_eq!(septets('\u{c}'), Some(2));
        assert_eq!(septets('\u{1b}'), None);
        assert_eq!(septets('¤'), Some(1));
        assert_eq!(septets('\t'), None);
        for c in "—–“”‘’…\u{a0}çáÁ€̈".chars().filter(|c| *c != '€') {
            assert_eq!(septets(c), None, "{c:?}");
        }
    }

    /// Issue 16: `[` and `]` take two septets, so a text of 159 or 160
    /// characters holding them is more than one segment.
    #[test]
    fn issue16_brackets_count_two_septets_at_159_and_160_characters() {
        let plain = "a".repeat(160);
        assert_eq!(length(&plain), gsm(160, 1));
        // 158 letters and one bracket: 159 characters, 160 septets, one segment.
        let one = format!("[{}", "a".repeat(158));
        assert_eq!(one.chars().count(), 159);
        assert_eq!(length(&one), gsm(160, 1));
        // 159 characters with two brackets: 161 septets, two segments.
        let two = format!("[critical]{}", "a".repeat(149));
        assert_eq!(two.chars().count(), 159);
        assert_eq!(length(&two), gsm(161, 2));
        // 160 characters with one bracket: 161 septets.
        let edge = format!("{}]", "a".repeat(159));
        assert_eq!(length(&edge), gsm(161, 2));
        // 80 brackets fill a segment exactly; one more letter does not fit.
        assert_eq!(length(&"[".repeat(80)), gsm(160, 1));
        assert_eq!(length(&format!("{}a", "]".repeat(80))), gsm(161, 2));
        assert_eq!(length("€"), gsm(2, 1));
        assert_eq!(length("\u{c}"), gsm(2, 1));
        assert_eq!(length(""), gsm(0, 1));
    }

    #[test]
    fn one_character_outside_the_alphabet_makes_it_ucs2_of_70_units() {
        // Issue 16: an em dash in a summary made a page UCS-2.
        let dash = format!("{} — {}", "a".repeat(60), "b".repeat(7));
        assert_eq!(length(&dash), ucs2(70, 1));
        assert_eq!(length(&format!("{dash}c")), ucs2(71, 2));
        // In UCS-2, brackets are one unit like any other character.
        assert_eq!(length(&format!("—{}", "[".repeat(69))), ucs2(70, 1));
        // An emoji is a surrogate pair: two units.
        assert_eq!(length("🔥"), ucs2(2, 1));
        assert_eq!(length(&"🔥".repeat(35)), ucs2(70, 1));
        assert_eq!(length(&"🔥".repeat(36)), ucs2(72, 2));
        let text = format!("{}{}", "a".repeat(140), "—".repeat(20));
        assert_eq!(length(&text), ucs2(160, 3));
    }

    #[test]
    fn parts_of_a_long_text_split_no_pair() {
        // 152 letters then a bracket: the escape pair does not fit in the
        // first part's last septet, so it starts the second.
        let text = format!("{}[{}", "a".repeat(152), "a".repeat(152));
        assert_eq!(length(&text), gsm(306, 3));
        assert_eq!(length(&"a".repeat(306)), gsm(306, 2));
        assert_eq!(length(&"a".repeat(307)), gsm(307, 3));
        // 66 units then a surrogate pair: the pair starts the second part.
        let text = format!("{}🔥{}", "ж".repeat(66), "ж".repeat(66));
        assert_eq!(length(&text), ucs2(134, 3));
        assert_eq!(length(&"ж".repeat(134)), ucs2(134, 2));
    }

    #[test]
    fn typography_and_accents_become_gsm() {
        for (from, to) in [
            ("Disk full — db-1 – eu", "Disk full - db-1 - eu"),
            ("“quoted” ‘single’ `code`", "\"quoted\" 'single' 'code'"),
            ("wait…", "wait..."),
            ("a\u{a0}b\u{202f}c\u{2009}d", "a b c d"),
            ("zero\u{200b}width\u{feff}", "zerowidth"),
            ("Ça coûte, señor, São Paulo, Łódź", "Ça coute, señor, Sao Paulo, Lodz"),
            ("e\u{301}", "é"),
            ("o\u{301}", "o"),
            ("ﬁle ½ x² ＡＢ", "file 1/2 x2 AB"),
            ("95°C, 3µs, 5×, ≥ 2", "95C, 3us, 5x, >= 2"),
            ("Straße œuvre ™", "Straße oeuvre TM"),
            ("€5 [x] {y} ~z^ |a\\", "€5 [x] {y} ~z^ |a\\"),
            ("🔥 Привет 中文", "? ?????? ??"),
        ] {
            assert_eq!(transliterate(from), to, "{from:?}");
        }
    }

    proptest! {
        #[test]
        fn transliterated_text_is_gsm7(text in any::<String>()) {
            let out = transliterate(&text);
            prop_assert!(out.chars().all(|c| septets(c).is_some()), "{:?} -> {:?}", text, out);
            prop_assert_eq!(length(&out).encoding, Encoding::Gsm7);
        }

        #[test]
        fn gsm7_text_is_kept(text in proptest::collection::vec(proptest::sample::select(
            BASIC.chars().chain(EXTENSION.chars()).collect::<Vec<char>>()), 0..200)) {
            let text: String = text.into_iter().collect();
            prop_assert_eq!(transliterate(&text), text);
        }

        #[test]
        fn one_segment_exactly_when_within_the_limit(text in any::<String>()) {
            let l = length(&text);
            let limit = match l.encoding {
                Encoding::Gsm7 => SEGMENT_SEPTETS,
                Encoding::Ucs2 => SEGMENT_UCS2_UNITS,
            };
            prop_assert_eq!(l.segments == 1, l.units <= limit);
            if l.encoding == Encoding::Ucs2 {
                prop_assert_eq!(l.units, text.encode_utf16().count());
            }
        }
    }
}
