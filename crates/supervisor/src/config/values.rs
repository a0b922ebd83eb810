//! The serde glue for values that have a name in a configuration: signals
//! (`"TERM"`, `15`) and the enums written in kebab case (`"on-failure"`).

use std::fmt;
use std::marker::PhantomData;

use procwire_core::{Signal, StopScope};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::notify::NotifyAccess;
use crate::settings::Strategy;
use crate::spec::RestartPolicy;

/// A [`Signal`] read as procwire reads signals everywhere
/// (`"TERM"`, `"SIGTERM"`, `"15"`, `"RTMIN+1"`), or as a number (`15`,
/// read as its decimal text, so the same rule and errors apply); written
/// by its name (`"SIGTERM"`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct SignalText(pub(crate) Signal);

impl Serialize for SignalText {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_string())
    }
}

impl<'de> Deserialize<'de> for SignalText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<SignalText, D::Error> {
        d.deserialize_any(SignalVisitor)
    }
}

struct SignalVisitor;

impl Visitor<'_> for SignalVisitor {
    type Value = SignalText;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a signal: a name such as \"TERM\" or \"SIGRTMIN+1\", or a number")
    }
    fn visit_str<E: de::Error>(self, text: &str) -> Result<SignalText, E> {
        text.parse().map(SignalText).map_err(E::custom)
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<SignalText, E> {
        self.visit_str(&n.to_string())
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<SignalText, E> {
        self.visit_str(&n.to_string())
    }
}

/// `#[serde(with)]` for `Option<Signal>`.
pub(crate) mod signal {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(v: &Option<Signal>, s: S) -> Result<S::Ok, S::Error> {
        v.map(SignalText).serialize(s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Signal>, D::Error> {
        Option::<SignalText>::deserialize(d).map(|v| v.map(|s| s.0))
    }
}

/// `#[serde(with)]` for `Option<Vec<Signal>>`.
pub(crate) mod signals {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(v: &Option<Vec<Signal>>, s: S) -> Result<S::Ok, S::Error> {
        v.as_ref().map(|v| v.iter().copied().map(SignalText).collect::<Vec<_>>()).serialize(s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<Signal>>, D::Error> {
        Option::<Vec<SignalText>>::deserialize(d).map(|v| v.map(|v| v.into_iter().map(|s| s.0).collect()))
    }
}

/// `#[serde(with)]` for `Option<Option<Signal>>`: a signal, or `false`
/// for none (`parent_death_signal`).
pub(crate) mod signal_or_false {
    use super::*;

    #[derive(Serialize)]
    #[serde(untagged)]
    enum Out {
        Signal(SignalText),
        None(bool),
    }

    pub(crate) fn serialize<S: Serializer>(v: &Option<Option<Signal>>, s: S) -> Result<S::Ok, S::Error> {
        v.map(|v| v.map_or(Out::None(false), |sig| Out::Signal(SignalText(sig)))).serialize(s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<Signal>>, D::Error> {
        struct OrFalse;
        impl Visitor<'_> for OrFalse {
            type Value = Option<Signal>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a signal such as \"KILL\", or false for none")
            }
            fn visit_bool<E: de::Error>(self, on: bool) -> Result<Option<Signal>, E> {
                match on {
                    false => Ok(None),
                    true => Err(E::custom("true names no signal: write one, such as \"KILL\", or false")),
                }
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Option<Signal>, E> {
                SignalVisitor.visit_str(text).map(|s| Some(s.0))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Option<Signal>, E> {
                SignalVisitor.visit_i64(n).map(|s| Some(s.0))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Option<Signal>, E> {
                SignalVisitor.visit_u64(n).map(|s| Some(s.0))
            }
        }
        d.deserialize_any(OrFalse).map(Some)
    }
}

/// An enum whose values a configuration writes by name.
pub(crate) trait Named: Copy + PartialEq + 'static {
    /// Each value and its name.
    const NAMES: &'static [(&'static str, Self)];

    /// The name of `self`, if it has one.
    fn name(self) -> Option<&'static str> {
        Self::NAMES.iter().find(|(_, v)| *v == self).map(|(n, _)| *n)
    }

    /// The value named `text`, or a message listing the names.
    fn parse(text: &str) -> Result<Self, String> {
        match Self::NAMES.iter().find(|(n, _)| *n == text) {
            Some((_, v)) => Ok(*v),
            None => {
                let names: Vec<String> = Self::NAMES.iter().map(|(n, _)| format!("{n:?}")).collect();
                Err(format!("{text:?} is not one of {}", names.join(", ")))
            }
        }
    }
}

impl Named for Strategy {
    const NAMES: &'static [(&'static str, Strategy)] = &[
        ("one-for-one", Strategy::OneForOne),
        ("one-for-all", Strategy::OneForAll),
        ("rest-for-one", Strategy::RestForOne),
    ];
}

impl Named for RestartPolicy {
    const NAMES: &'static [(&'static str, RestartPolicy)] = &[
        ("always", RestartPolicy::Always),
        ("never", RestartPolicy::Never),
        ("on-failure", RestartPolicy::OnFailure),
        ("on-abnormal", RestartPolicy::OnAbnormal),
        ("on-watchdog", RestartPolicy::OnWatchdog),
    ];
}

impl Named for StopScope {
    const NAMES: &'static [(&'static str, StopScope)] = &[
        ("process", StopScope::Process),
        ("group", StopScope::Group),
        ("cgroup", StopScope::Cgroup),
        ("tree", StopScope::Tree),
    ];
}

impl Named for NotifyAccess {
    const NAMES: &'static [(&'static str, NotifyAccess)] =
        &[("main", NotifyAccess::Main), ("group", NotifyAccess::Group), ("all", NotifyAccess::All)];
}

/// `#[serde(with)]` for an `Option` of a [`Named`] enum.
pub(crate) mod named {
    use super::*;

    pub(crate) fn serialize<T: Named, S: Serializer>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            None => s.serialize_none(),
            Some(v) => match v.name() {
                Some(name) => s.serialize_some(name),
                None => Err(serde::ser::Error::custom("a value that has no name in a configuration")),
            },
        }
    }

    pub(crate) fn deserialize<'de, T: Named, D: Deserializer<'de>>(d: D) -> Result<Option<T>, D::Error> {
        struct Name<T>(PhantomData<T>);
        impl<T: Named> Visitor<'_> for Name<T> {
            type Value = T;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let names: Vec<String> = T::NAMES.iter().map(|(n, _)| format!("{n:?}")).collect();
                write!(f, "one of {}", names.join(", "))
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<T, E> {
                T::parse(text).map_err(E::custom)
            }
        }
        struct Read<T>(T);
        impl<'de, T: Named> Deserialize<'de> for Read<T> {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Read<T>, D::Error> {
                d.deserialize_str(Name(PhantomData)).map(Read)
            }
        }
        Option::<Read<T>>::deserialize(d).map(|v| v.map(|v| v.0))
    }
}
