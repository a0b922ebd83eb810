//! Durations as people write them: `"5s"`, `"300ms"`, `"1m30s"`,
//! `"1.5s"`, `"infinity"`; and the serde glue that reads and writes them.

use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use super::ConfigError;

/// The units, largest first, with their length in nanoseconds.
const UNITS: [(&str, u128); 7] = [
    ("d", 86_400 * NANOS_PER_SEC),
    ("h", 3_600 * NANOS_PER_SEC),
    ("m", 60 * NANOS_PER_SEC),
    ("s", NANOS_PER_SEC),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("ns", 1),
];

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// The most digits after a decimal point (`"1.000000000000000001d"` is
/// still a whole number of nanoseconds).
const MAX_FRACTION_DIGITS: usize = 18;

/// Reads a duration written as numbers with units, largest unit first,
/// each unit once, no blanks: `"5s"`, `"300ms"`, `"1m30s"`, `"2h"`,
/// `"1d12h"`, `"0s"`, `"1.5s"` (a fraction must come to a whole number of
/// nanoseconds). The units are `d`, `h`, `m`, `s`, `ms`, `us` and `ns`;
/// `"infinity"` is [`Duration::MAX`] (for settings where it means never).
/// Available with the `config` feature.
///
/// ```
/// use std::time::Duration;
/// use procwire_supervisor::{format_duration, parse_duration};
///
/// assert_eq!(parse_duration("1m30s")?, Duration::from_secs(90));
/// assert_eq!(parse_duration("1.5s")?, Duration::from_millis(1500));
/// assert_eq!(format_duration(Duration::from_millis(90_250)), "1m30s250ms");
/// let err = parse_duration("5").unwrap_err();
/// assert_eq!(err.to_string(), "\"5\" has no unit: write \"5s\" for seconds (or ms, m, h ...)");
/// # Ok::<(), procwire_supervisor::ConfigError>(())
/// ```
///
/// # Errors
///
/// A [`ConfigError`] without program or key, whose message says what is
/// wrong: empty, negative, a number without a unit (`"5"`), an unknown
/// unit, units out of order or twice, a blank, finer than a nanosecond,
/// longer than [`Duration::MAX`].
pub fn parse_duration(text: &str) -> Result<Duration, ConfigError> {
    parse(text).map_err(ConfigError::message)
}

/// Writes a duration the way [`parse_duration`] reads it, with the
/// fewest parts: `"0s"`, `"300ms"`, `"1m30s"`, `"1d2h"`, `"infinity"` for
/// [`Duration::MAX`]. Available with the `config` feature.
///
/// ```
/// use std::time::Duration;
/// use procwire_supervisor::format_duration;
///
/// assert_eq!(format_duration(Duration::ZERO), "0s");
/// assert_eq!(format_duration(Duration::from_secs(3600)), "1h");
/// assert_eq!(format_duration(Duration::new(1, 5)), "1s5ns");
/// ```
pub fn format_duration(duration: Duration) -> String {
    if duration == Duration::MAX {
        return "infinity".to_owned();
    }
    if duration.is_zero() {
        return "0s".to_owned();
    }
    let mut nanos = duration.as_nanos();
    let mut out = String::new();
    for (unit, length) in UNITS {
        let count = nanos / length;
        if count > 0 {
            out.push_str(&format!("{count}{unit}"));
            nanos %= length;
        }
    }
    out
}

fn parse(text: &str) -> Result<Duration, String> {
    let hint = "write a duration such as \"5s\", \"300ms\" or \"1m30s\"";
    if text == "infinity" {
        return Ok(Duration::MAX);
    }
    if text.is_empty() {
        return Err(format!("an empty duration: {hint}"));
    }
    if text.starts_with('-') {
        return Err(format!("{text:?} is negative: a duration is 0 or more"));
    }
    if text.chars().any(char::is_whitespace) {
        return Err(format!("{text:?} has a blank: write the parts together, as \"1m30s\""));
    }
    if text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(format!("{text:?} has no unit: write \"{text}s\" for seconds (or ms, m, h ...)"));
    }
    let max = Duration::MAX.as_nanos();
    let too_long = || format!("{text:?} is too long: the longest is about 584 billion years (\"infinity\")");
    let (mut total, mut rest, mut previous) = (0u128, text, None::<usize>);
    while !rest.is_empty() {
        let whole_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (whole, after) = rest.split_at(whole_len);
        let (fraction, after) = match after.strip_prefix('.') {
            Some(after) => after.split_at(after.bytes().take_while(u8::is_ascii_digit).count()),
            None => ("", after),
        };
        if whole.is_empty() && fraction.is_empty() {
            return Err(format!("{text:?}: expected a number at {rest:?}; {hint}"));
        }
        let unit_len = after.bytes().take_while(u8::is_ascii_alphabetic).count();
        let (unit, after) = after.split_at(unit_len);
        let Some(rank) = UNITS.iter().position(|(name, _)| *name == unit) else {
            return Err(match unit {
                "" => format!("{text:?}: a number without a unit; {hint}"),
                _ => format!("{text:?}: unknown unit {unit:?}: the units are d, h, m, s, ms, us and ns"),
            });
        };
        if previous.is_some_and(|p| p >= rank) {
            return Err(format!("{text:?}: the units go from the largest to the smallest, each once"));
        }
        if fraction.len() > MAX_FRACTION_DIGITS {
            return Err(format!("{text:?}: more than {MAX_FRACTION_DIGITS} digits after the point"));
        }
        let length = UNITS[rank].1;
        // Digits only, so a parse error is an overflow.
        let whole: u128 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| too_long())? };
        let part = whole.checked_mul(length).ok_or_else(too_long)?;
        let part = if fraction.is_empty() {
            part
        } else {
            let scale = 10u128.pow(fraction.len() as u32);
            let nanos = fraction.parse::<u128>().map_err(|_| too_long())? * length;
            if !nanos.is_multiple_of(scale) {
                return Err(format!("{text:?} is finer than a nanosecond"));
            }
            part.checked_add(nanos / scale).ok_or_else(too_long)?
        };
        total = total.checked_add(part).filter(|&t| t <= max).ok_or_else(too_long)?;
        (rest, previous) = (after, Some(rank));
    }
    let secs = u64::try_from(total / NANOS_PER_SEC).map_err(|_| too_long())?;
    Ok(Duration::new(secs, (total % NANOS_PER_SEC) as u32))
}

/// A [`Duration`] read and written as text (`"5s"`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Human(pub(crate) Duration);

impl Serialize for Human {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_duration(self.0))
    }
}

impl<'de> Deserialize<'de> for Human {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Human, D::Error> {
        struct Text;
        impl Visitor<'_> for Text {
            type Value = Human;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a duration such as \"5s\" or \"300ms\"")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Human, E> {
                parse(text).map(Human).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Human, E> {
                Err(E::custom(format!(
                    "a duration is text with its unit: write \"{n}s\" (or ms, m, h ...), not {n}"
                )))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Human, E> {
                Err(E::custom(format!(
                    "a duration is text with its unit: write \"{n}s\" (or ms, m, h ...), not {n}"
                )))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Human, E> {
                Err(E::custom(format!(
                    "a duration is text with its unit: write \"{n}s\" (or ms, m, h ...), not {n}"
                )))
            }
        }
        d.deserialize_str(Text)
    }
}

/// `#[serde(with)]` for `Duration`.
pub(crate) mod plain {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        Human(*d).serialize(s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Human::deserialize(d).map(|h| h.0)
    }
}

/// `#[serde(with)]` for `Option<Duration>` (with `default` and
/// `skip_serializing_if`).
pub(crate) mod option {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        d.map(Human).serialize(s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<Human>::deserialize(d).map(|h| h.map(|h| h.0))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn reads_the_usual_forms() {
        let cases = [
            ("5s", Duration::from_secs(5)),
            ("300ms", Duration::from_millis(300)),
            ("1m30s", Duration::from_secs(90)),
            ("2h", Duration::from_secs(7200)),
            ("1d12h", Duration::from_secs(129_600)),
            ("0s", Duration::ZERO),
            ("0ns", Duration::ZERO),
            ("1.5s", Duration::from_millis(1500)),
            (".5s", Duration::from_millis(500)),
            ("1.s", Duration::from_secs(1)),
            ("0.000000001s", Duration::from_nanos(1)),
            ("1s1ms1us1ns", Duration::new(1, 1_001_001)),
            ("infinity", Duration::MAX),
            ("18446744073709551615s999999999ns", Duration::MAX),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn refuses_with_a_message_that_says_why() {
        let cases = [
            ("", "an empty duration"),
            ("-5s", "is negative"),
            ("5", "has no unit: write \"5s\""),
            ("1.5", "has no unit"),
            ("5 s", "has a blank"),
            (" 5s", "has a blank"),
            ("5sec", "unknown unit \"sec\""),
            ("5S", "unknown unit \"S\""),
            ("5µs", "a number without a unit"),
            ("s", "expected a number"),
            ("5s1m", "from the largest to the smallest"),
            ("5s5s", "from the largest to the smallest"),
            ("1.5ns", "finer than a nanosecond"),
            ("0.0000000001s", "finer than a nanosecond"),
            ("1.0000000000000000000s", "digits after the point"),
            ("18446744073709551616s", "too long"),
            ("18446744073709551615s1000000000ns", "too long"),
            ("99999999999999999999999999999999999999999d", "too long"),
            ("213503982334602d", "too long"),
            ("Infinity", "expected a number"),
        ];
        for (text, want) in cases {
            let err = parse(text).unwrap_err();
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }

    #[test]
    fn numbers_are_refused_naming_the_text_to_write() {
        let err = toml::from_str::<toml::Table>("d = 5").unwrap()["d"].clone();
        let err = Human::deserialize(err).unwrap_err();
        assert_eq!(err.message(), "a duration is text with its unit: write \"5s\" (or ms, m, h ...), not 5");
    }

    fn any_duration() -> impl Strategy<Value = Duration> {
        prop_oneof![
            Just(Duration::ZERO),
            Just(Duration::MAX),
            Just(Duration::new(u64::MAX, 999_999_998)),
            (0..100_000u64).prop_map(Duration::from_millis),
            (any::<u64>(), 0..1_000_000_000u32).prop_map(|(s, n)| Duration::new(s, n)),
        ]
    }

    proptest! {
        /// Any duration, written, reads back as itself; and what is
        /// written is the shortest form (no unit twice, no zero part).
        #[test]
        fn a_written_duration_reads_back(d in any_duration()) {
            let text = format_duration(d);
            prop_assert_eq!(parse(&text), Ok(d), "{}", text);
            prop_assert!(!text.contains(|c: char| c.is_whitespace()));
            let human: Human = toml::Value::String(text.clone()).try_into().expect("reads");
            prop_assert_eq!(human.0, d);
        }

        /// Any text: a duration or a message, never a panic.
        #[test]
        fn any_text_is_read_or_refused(text in "[0-9.dhmsun -]{0,24}|\\PC{0,12}") {
            if let Err(message) = parse(&text) {
                prop_assert!(message.contains(&format!("{text:?}")) || text.is_empty(), "{}", message);
            }
        }
    }
}
