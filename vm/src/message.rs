//! Messages: one heap node per message holding the queue link and the value inline, and `Msg`,
//! the owned, dynamically typed message a process receives.
//!
//! A node is `#[repr(C)] Node<T> { NodeHeader, T }`. The mailbox links `NodeHeader`s (thin
//! pointers). `SlabBox<Node<T>>` unsizes to `SlabBox<Node<dyn Payload>>` at the same address,
//! and the header points to its type's `NodeVt`, whose monomorphised `to_fat` rebuilds that fat
//! pointer from the thin one, so a message costs exactly one allocation and `downcast` moves the
//! value out of it.
//! Nodes come from the runtime's own allocator (`spam_scheduler::slab`), never from the
//! program's global one: a node freed by its receiver goes back to its sender's page in batches.

use crate::pid::{Pid, Ref};
use crate::signal::Signal;
use spam_scheduler::slab::SlabBox;
use std::any::{Any, TypeId};
use std::fmt;
use std::ptr::NonNull;

/// What a node's payload is: any `Send + 'static` value, with its type's name in the vtable.
pub(crate) trait Payload: Any + Send {
    /// `std::any::type_name` of the payload's type.
    fn type_name(&self) -> &'static str;
}

impl<T: Any + Send> Payload for T {
    #[inline]
    fn type_name(&self) -> &'static str {
        std::any::type_name::<T>()
    }
}

/// What a node carries. The kinds from `Signal` on are *control* nodes: the receiver acts on
/// them when it files them (`Process::file`), so a batch holding one is filed node by node.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub(crate) enum Kind {
    /// A message sent by `send` (counts against a bounded mailbox).
    Message,
    /// A message made by the receiver itself from a signal (`Exit`, `Down`), or a reply that
    /// passed its alias: never bounded.
    System,
    Signal,
    /// A [`Tagged`] message that also carries a monitor of the receiver by `pid` with
    /// reference `tag` (`Process::request`): filed as the `Monitor` signal then the `Message`
    /// it stands for.
    Request,
    /// A [`Tagged`] reply to the alias `tag` (`Process::reply`): filed as a `System` message
    /// if the alias is active, else dropped.
    Reply,
    /// A [`Reply`](Kind::Reply) whose sender was the monitored process of the reply alias
    /// `tag` and has dropped its side of that monitor already.
    ReplyDemonitored,
}

impl Kind {
    /// A control node (see the type).
    #[inline]
    pub(crate) fn is_control(self) -> bool {
        self as u8 >= Kind::Signal as u8
    }
}

/// The payload of a `Kind::Request` or `Kind::Reply` node: `pid` (the sender) and `tag`
/// (the monitor / alias reference) first, at a fixed place, so the receiver's VM reads them
/// without knowing `T` (`OwnedNode::tagged_head`). Sent by `Process::request` and
/// `Process::reply`; received as a message of this type.
#[repr(C)]
#[derive(Debug)]
pub struct Tagged<T> {
    /// The sender: the caller of a request, the replier of a reply.
    pub pid: Pid,
    /// The request's monitor reference, which is also the reply's alias.
    pub tag: Ref,
    /// What was sent.
    pub value: T,
}

/// A node's header: two words, so a node with a payload of up to 16 bytes fits a 32-byte
/// block, and one with none (or a `()`-like marker) a 16-byte block: a flooded mailbox moves
/// half the cache lines it moved with a three-word header.
#[repr(C)]
pub(crate) struct NodeHeader {
    /// Next node in the mailbox stack. Written by the pushing thread before the node is
    /// published (Release CAS), read by the consumer after its Acquire swap.
    pub(crate) next: *mut NodeHeader,
    /// The payload type's [`NodeVt`] (a `'static`, so aligned to 8) with the node's [`Kind`] in
    /// the low three bits.
    meta: usize,
}

/// What a node needs to know of its payload's type, one `'static` per type: its `TypeId` (a
/// type test is a compare, no virtual call) and how to rebuild the fat pointer (for drop glue,
/// the layout and the type's name).
struct NodeVt {
    type_id: TypeId,
    to_fat: unsafe fn(*mut NodeHeader) -> *mut Node<dyn Payload>,
}

/// The low bits of `NodeHeader::meta` that hold the kind (`NodeVt` is aligned to 8).
const KIND_BITS: usize = 0b111;
const _: () = assert!(std::mem::align_of::<NodeVt>() > KIND_BITS && (Kind::ReplyDemonitored as usize) <= KIND_BITS);

/// `NodeVt` of `T`.
struct VtOf<T>(std::marker::PhantomData<T>);

impl<T: Any + Send> VtOf<T> {
    const VT: &'static NodeVt = &NodeVt { type_id: TypeId::of::<T>(), to_fat: to_fat::<T> };
}

impl NodeHeader {
    #[inline]
    fn new<T: Any + Send>(kind: Kind) -> NodeHeader {
        NodeHeader { next: std::ptr::null_mut(), meta: VtOf::<T>::VT as *const NodeVt as usize | kind as usize }
    }
    #[inline]
    pub(crate) fn kind(&self) -> Kind {
        // SAFETY: the low bits hold a `Kind` (`new`, `set_kind`); `Kind` is `repr(u8)`.
        unsafe { std::mem::transmute::<u8, Kind>((self.meta & KIND_BITS) as u8) }
    }
    #[inline]
    fn set_kind(&mut self, kind: Kind) {
        self.meta = (self.meta & !KIND_BITS) | kind as usize;
    }
    #[inline]
    fn vt(&self) -> &'static NodeVt {
        // SAFETY: `meta` less the kind is a `&'static NodeVt` (`new`).
        unsafe { &*((self.meta & !KIND_BITS) as *const NodeVt) }
    }
    /// The fat pointer to the node `p` heads.
    ///
    /// # Safety
    /// `p` is a live node's header.
    #[inline]
    unsafe fn to_fat(p: *mut NodeHeader) -> *mut Node<dyn Payload> {
        // SAFETY: the caller's node; `meta` less the kind is the `&'static NodeVt` of its type.
        unsafe { ((*p).vt().to_fat)(p) }
    }
}

#[repr(C)]
pub(crate) struct Node<T: ?Sized> {
    header: NodeHeader,
    payload: T,
}

unsafe fn to_fat<T: Any + Send>(p: *mut NodeHeader) -> *mut Node<dyn Payload> {
    p as *mut Node<T> as *mut Node<dyn Payload>
}

/// A node not yet in (or just taken out of) a mailbox: the unique owner of its allocation.
pub(crate) struct OwnedNode(NonNull<NodeHeader>);

// SAFETY: the payload of every node is `Send` (enforced by `OwnedNode::new`), and an OwnedNode is
// the unique owner of its allocation.
unsafe impl Send for OwnedNode {}

impl OwnedNode {
    pub(crate) fn new<T: Any + Send>(kind: Kind, payload: T) -> OwnedNode {
        let b = SlabBox::new(Node { header: NodeHeader::new::<T>(kind), payload });
        OwnedNode(SlabBox::into_raw(b).cast())
    }
    pub(crate) fn message<T: Any + Send>(payload: T) -> OwnedNode {
        Self::new(Kind::Message, payload)
    }
    pub(crate) fn signal(s: Signal) -> OwnedNode {
        Self::new(Kind::Signal, s)
    }
    pub(crate) fn into_raw(self) -> NonNull<NodeHeader> {
        let p = self.0;
        std::mem::forget(self);
        p
    }
    /// [`OwnedNode::into_raw`], with `below` as the node's `next`: the new top of a list built
    /// newest first, not yet published (a `Chain`, the outbox's gathered run).
    pub(crate) fn into_raw_above(self, below: *mut NodeHeader) -> NonNull<NodeHeader> {
        let p = self.into_raw();
        // SAFETY: the node was ours and is unpublished: nobody else reads its header yet.
        unsafe { (*p.as_ptr()).next = below };
        p
    }
    /// # Safety
    /// `p` came from [`OwnedNode::into_raw`] and is owned by nobody else now.
    pub(crate) unsafe fn from_raw(p: NonNull<NodeHeader>) -> OwnedNode {
        OwnedNode(p)
    }
    #[inline]
    fn header(&self) -> &NodeHeader {
        // SAFETY: we own a live node.
        unsafe { self.0.as_ref() }
    }
    pub(crate) fn kind(&self) -> Kind {
        self.header().kind()
    }
    pub(crate) fn set_kind(&mut self, kind: Kind) {
        // SAFETY: we own the node; nobody else reads its header.
        unsafe { (*self.0.as_ptr()).set_kind(kind) };
    }
    /// A [`Tagged`] node's `pid` and `tag`.
    pub(crate) fn tagged_head(&self) -> (Pid, Ref) {
        debug_assert!(matches!(self.kind(), Kind::Request | Kind::Reply | Kind::ReplyDemonitored));
        let p = self.0.as_ptr();
        // SAFETY: a node of these kinds is only made by `Runtime::push_node`, whose contract is
        // that its payload is then a `Tagged<T>`: `#[repr(C)]` with `pid` then `tag` (both
        // plain `u64`s) at its start, whatever `T`. The fat pointer gives the payload's address
        // for `T`'s alignment; we own the node.
        unsafe {
            let payload = std::ptr::addr_of!((*NodeHeader::to_fat(p)).payload) as *const u8;
            let head = payload.cast::<Tagged<()>>();
            ((*head).pid, (*head).tag)
        }
    }
    /// Into a received message.
    pub(crate) fn into_msg(self) -> Msg {
        debug_assert!(!self.kind().is_control());
        Msg(self)
    }
    /// Into the signal it carries.
    pub(crate) fn into_signal(self) -> Signal {
        debug_assert_eq!(self.kind(), Kind::Signal);
        let m = Msg(self);
        debug_assert!(m.is::<Signal>());
        // SAFETY: a node of kind `Signal` is only made by `OwnedNode::signal`.
        unsafe { m.downcast_unchecked::<Signal>() }
    }
}

impl Drop for OwnedNode {
    fn drop(&mut self) {
        let p = self.0.as_ptr();
        // SAFETY: `to_fat` was recorded for this node's real payload type, and we own the
        // allocation made by `SlabBox::new` with that type (unsized in place); this is the last
        // use of the pointer.
        drop(unsafe { SlabBox::from_raw(NonNull::new_unchecked(NodeHeader::to_fat(p))) });
    }
}

/// A received message: any `Send + 'static` value, typed at run time. A thin pointer to its
/// node: a type test reads the header, and only a drop or `type_name` rebuilds the fat pointer.
pub struct Msg(OwnedNode);

impl Msg {
    /// Wraps a value as a message (what `send` does; handy in tests).
    ///
    /// ```
    /// # use spam_vm as spam; // these examples run in spam-vm's doctests; users write `spam::`
    /// let m = spam::Msg::new(7u32);
    /// assert!(m.is::<u32>());
    /// ```
    pub fn new<T: Any + Send>(value: T) -> Msg {
        OwnedNode::message(value).into_msg()
    }
    /// Gives the node up, as a thin pointer to its header (for the save queue's links).
    pub(crate) fn into_node(self) -> NonNull<NodeHeader> {
        self.0.into_raw()
    }
    /// Takes a node back from [`Msg::into_node`] (or a mailbox) as a message.
    ///
    /// # Safety
    /// `p` is a live message node (not a signal) owned by nobody else now.
    pub(crate) unsafe fn from_node(p: NonNull<NodeHeader>) -> Msg {
        // SAFETY: per the contract.
        unsafe { OwnedNode::from_raw(p) }.into_msg()
    }
    /// A system message (made from a signal by its receiver).
    pub(crate) fn system<T: Any + Send>(value: T) -> Msg {
        OwnedNode::new(Kind::System, value).into_msg()
    }
    /// `true` if `send` made it (it counts against a bounded mailbox).
    pub(crate) fn is_sent(&self) -> bool {
        self.0.kind() == Kind::Message
    }
    /// The name of the message's Rust type (`std::any::type_name`), as trace events show it.
    /// Read from the payload's vtable: no per-message cost.
    ///
    /// ```
    /// # use spam_vm as spam; // these examples run in spam-vm's doctests; users write `spam::`
    /// assert_eq!(spam::Msg::new(String::new()).type_name(), "alloc::string::String");
    /// ```
    pub fn type_name(&self) -> &'static str {
        let p = self.0 .0.as_ptr();
        // SAFETY: our live node; the fat pointer is its own (`NodeHeader::to_fat`).
        unsafe { (*NodeHeader::to_fat(p)).payload.type_name() }
    }
    /// `true` if the message holds a `T`.
    ///
    /// ```
    /// # use spam_vm as spam; // these examples run in spam-vm's doctests; users write `spam::`
    /// let m = spam::Msg::new("text");
    /// assert!(m.is::<&str>() && !m.is::<String>());
    /// ```
    pub fn is<T: Any>(&self) -> bool {
        self.0.header().vt().type_id == TypeId::of::<T>()
    }
    /// Borrows the value if it is a `T`.
    ///
    /// ```
    /// # use spam_vm as spam; // these examples run in spam-vm's doctests; users write `spam::`
    /// let m = spam::Msg::new(1.5f64);
    /// assert_eq!(m.downcast_ref::<f64>(), Some(&1.5));
    /// assert_eq!(m.downcast_ref::<f32>(), None);
    /// ```
    pub fn downcast_ref<T: Any>(&self) -> Option<&T> {
        // SAFETY: the node holds a `T` (just tested), so it is a `Node<T>` (`repr(C)`, allocated
        // as one); borrowed for as long as `self`.
        self.is::<T>().then(|| unsafe { &(*self.0 .0.cast::<Node<T>>().as_ptr()).payload })
    }
    /// Mutably borrows the value if it is a `T`.
    ///
    /// ```
    /// # use spam_vm as spam; // these examples run in spam-vm's doctests; users write `spam::`
    /// let mut m = spam::Msg::new(vec![1u8]);
    /// m.downcast_mut::<Vec<u8>>().unwrap().push(2);
    /// assert_eq!(m.downcast::<Vec<u8>>().ok(), Some(vec![1, 2]));
    /// ```
    pub fn downcast_mut<T: Any>(&mut self) -> Option<&mut T> {
        // SAFETY: as in `downcast_ref`, borrowed mutably for as long as `self`.
        self.is::<T>().then(|| unsafe { &mut (*self.0 .0.cast::<Node<T>>().as_ptr()).payload })
    }
    /// Takes the value out if it is a `T`; gives the message back otherwise.
    ///
    /// ```
    /// # use spam_vm as spam; // these examples run in spam-vm's doctests; users write `spam::`
    /// let m = spam::Msg::new(String::from("hi"));
    /// let m = m.downcast::<u64>().unwrap_err(); // not a u64: handed back
    /// assert_eq!(m.downcast::<String>().ok().as_deref(), Some("hi"));
    /// ```
    pub fn downcast<T: Any>(self) -> Result<T, Msg> {
        if !self.is::<T>() {
            return Err(self);
        }
        // SAFETY: just checked.
        Ok(unsafe { self.downcast_unchecked() })
    }
    /// Takes the value out, its type known (a typed receive whose predicate tested it: the
    /// type test, a virtual call, is not made twice).
    ///
    /// # Safety
    /// The message holds a `T` (`is::<T>()`).
    #[doc(hidden)]
    #[inline]
    pub unsafe fn downcast_unchecked<T: Any>(self) -> T {
        let raw = self.0.into_raw().cast::<Node<T>>();
        // SAFETY: the payload's TypeId is T's, so the allocation was made as `SlabBox<Node<T>>`
        // (unsizing keeps address and layout); we own it.
        let node = unsafe { SlabBox::from_raw(raw) };
        SlabBox::into_inner(node).payload
    }
}

impl fmt::Debug for Msg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(e) = self.downcast_ref::<crate::Exit>() {
            return fmt::Debug::fmt(e, f);
        }
        if let Some(d) = self.downcast_ref::<crate::Down>() {
            return fmt::Debug::fmt(d, f);
        }
        write!(f, "Msg({})", self.type_name())
    }
}

#[cfg(all(test, not(spam_loom)))]
mod tests {
    use super::*;

    /// A type test reads the `TypeId` in the node's `NodeVt`, and a borrow casts the thin pointer:
    /// right for values of every alignment and size, for look-alike types (same layout, other
    /// type), and the owned value is dropped once, with the message.
    #[test]
    fn type_tests_and_borrows_through_the_thin_pointer() {
        fn check<T: Any + Send + PartialEq + fmt::Debug + Clone>(value: T) {
            let mut m = Msg::new(value.clone());
            assert!(m.is::<T>() && !m.is::<[u8; 3]>());
            assert_eq!(m.downcast_ref::<T>(), Some(&value));
            assert!(m.downcast_mut::<T>().is_some());
            assert_eq!(m.type_name(), std::any::type_name::<T>());
            assert_eq!(m.downcast::<T>().ok(), Some(value));
        }
        check(u128::MAX - 1);
        check(());
        check(String::from("owned"));
        check(7u8);
        #[derive(Debug, Clone, PartialEq)]
        struct LikeU64(u64);
        let m = Msg::new(LikeU64(5));
        assert!(!m.is::<u64>() && m.downcast_ref::<u64>().is_none());
        let drops = std::sync::Arc::new(());
        drop(Msg::new(drops.clone()));
        assert_eq!(std::sync::Arc::strong_count(&drops), 1, "dropped once, with the message");
    }

    /// `tagged_head` reads `pid` and `tag` whatever the value's type: of higher alignment than
    /// the head (the payload then starts later in the node), zero-sized, or owning memory; and
    /// the node is still received as its `Tagged<T>` once filed as a message.
    #[test]
    fn a_tagged_nodes_head_is_read_for_any_value_type() {
        fn check<T: Any + Send + PartialEq + fmt::Debug + Clone>(value: T) {
            let (pid, tag) = (Pid::new(7, 3), Ref::make());
            for kind in [Kind::Request, Kind::Reply, Kind::ReplyDemonitored] {
                let mut node = OwnedNode::new(kind, Tagged { pid, tag, value: value.clone() });
                assert_eq!(node.tagged_head(), (pid, tag));
                node.set_kind(Kind::Message);
                let t = node.into_msg().downcast::<Tagged<T>>().expect("a Tagged<T>");
                assert_eq!((t.pid, t.tag, t.value), (pid, tag, value.clone()));
            }
        }
        check(u128::MAX - 1);
        check(());
        check(String::from("owned"));
        check(7u8);
    }
}
