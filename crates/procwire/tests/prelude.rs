//! Issue 18: `use procwire::prelude::*` gives names that collide with
//! nothing, also beside `use procwire::*` or `use procwire::supervisor::*`
//! (the same item reached twice is not ambiguous). A collision would be
//! the `ambiguous_glob_imports` lint, denied here.
#![deny(ambiguous_glob_imports)]

mod with_the_facade {
    use procwire::prelude::*;
    use procwire::*;

    /// Names from both globs, `Error` and `Event` from the facade's.
    pub(crate) fn names(_: &Command, _: &Run, _: &StopPolicy, _: &Event, _: &Error, _: &Supervisor) {}
}

mod with_the_supervisor {
    use procwire::prelude::*;
    use procwire::supervisor::*;

    /// Names from both globs, `Error` and `Event` from the supervisor's.
    pub(crate) fn names(_: &Command, _: &Run, _: &StopPolicy, _: &Event, _: &Error, _: &ProgramSpec) {}
}

#[test]
fn the_prelude_names_the_same_items_as_their_crates() {
    use procwire::prelude::*;
    let _: fn(
        &procwire::Command,
        &procwire::Run,
        &procwire::StopPolicy,
        &procwire::Event,
        &procwire::Error,
        &procwire::supervisor::Supervisor,
    ) = with_the_facade::names;
    let _: fn(
        &procwire::Command,
        &procwire::Run,
        &procwire::supervisor::StopPolicy,
        &procwire::supervisor::Event,
        &procwire::supervisor::Error,
        &procwire::supervisor::ProgramSpec,
    ) = with_the_supervisor::names;
    // `Result` is std's, not procwire's alias.
    let ok: Result<u8, String> = Ok(1);
    assert_eq!(ok, Ok(1));
    let status: ExitStatus = std::process::ExitStatus::default().into();
    assert!(status.success());
    let _ = (Run::new("true"), Command::new("true"), Signal::TERM, StopScope::Group, RestartPolicy::Never);
}
