//! `SPAM_OBSERVER`, read by `Vm::builder()` (docs/observer.md, "Turning it on"). One test in its
//! own binary: it sets the variable, which every VM built meanwhile in the same process reads.

#[test]
fn spam_observer_turns_the_observer_on_and_a_taken_address_only_warns() {
    std::env::set_var("SPAM_OBSERVER", "1");
    let vm = spam::Vm::builder().schedulers(1).build();
    let addr = vm.observer_addr().expect("SPAM_OBSERVER=1 turns the observer on");
    assert!(addr.ip().is_loopback());
    assert_ne!(addr.port(), 0);

    // An address in use: from the environment only, the VM runs without the observer ...
    std::env::set_var("SPAM_OBSERVER", addr.to_string());
    let second = spam::Vm::builder().schedulers(1).build();
    assert_eq!(second.observer_addr(), None);
    assert_eq!(second.block_on(async { 6 * 7 }), 42);
    // ... while asked for in the program, it is an error (`build` would panic naming it).
    assert!(spam::Vm::builder().schedulers(1).observer(addr.to_string()).try_build().is_err());

    // The program's own address wins over the environment's; "0" turns it off.
    let own = spam::Vm::builder().schedulers(1).observer("127.0.0.1:0").build();
    assert_ne!(own.observer_addr(), Some(addr));
    std::env::set_var("SPAM_OBSERVER", "0");
    assert_eq!(spam::Vm::builder().schedulers(1).build().observer_addr(), None);
    // A bare port means loopback.
    std::env::set_var("SPAM_OBSERVER", ":0");
    let bare = spam::Vm::builder().schedulers(1).build();
    assert!(bare.observer_addr().expect("on").ip().is_loopback());
    std::env::remove_var("SPAM_OBSERVER");
}
