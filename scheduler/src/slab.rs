//! The runtime's own small-object allocator: message nodes and task (process) cells come from
//! here, so their cost does not depend on the program's global allocator.
//!
//! # Why not the global allocator
//! A message is allocated by its sender's thread and freed by its receiver's. Through glibc's
//! `malloc` that cross-thread free goes back to the sender's arena under the arena's lock, and a
//! flooded mailbox walks fresh memory (a page fault per page of nodes on every run). Here the
//! free is one CAS per *batch* of blocks, and pages stay with the runtime.
//!
//! # Design (a size-class slab with remote-free lists, after mimalloc's pages)
//! - **Pages** of [`PAGE`] bytes, aligned to their size, each holding blocks of one size class
//!   (16 to 1024 bytes; anything larger or aligned to more than 64 bytes goes to the global
//!   allocator — the layout alone decides, at allocation and at free). A block's page is its
//!   address rounded down to the page size.
//! - **Heaps**: one per thread (a thread-local), owning pages. The owner allocates from a page's
//!   local free list, then from its never-used tail (bump), with no atomic operation.
//! - **Frees**: on the owner thread, a block goes back on its page's local list. On any other
//!   thread it joins that thread's *pending batch* for the page; the batch (up to
//!   [`BATCH`] blocks of one page) is pushed onto the page's atomic `remote` list with one CAS.
//!   The owner takes the whole remote list with one swap when its local list runs dry.
//! - **Which page next** (`Heap::alloc_slow`): one whose blocks are all back (it starts over, in
//!   address order), else a fresh one while the class has fewer than `FRESH_PAGES`, else
//!   whatever came back.
//! - **Thread exit**: the heap *abandons* its pages; each is freed by whoever returns its last
//!   block (see the protocol below). Empty pages go to a small global pool for the next heap.
//!
//! # The remote-free protocol (loom model: `loom-tests/tests/slab.rs`)
//! A page's `remote` word is a stack of freed blocks *with its length*, or the tag
//! [`ABANDONED`]: the top block's offset in the page in the low 16 bits (0: empty; blocks start
//! at `HEADER` or later, so never 0 or 1), the number of blocks on the stack above them
//! (`Remote`). One word, so the count is exact whenever the stack is read.
//! 1. Only a thread holding blocks of the page pushes onto `remote` (CAS, Release: its links,
//!    then the new top and count); each block is pushed once per allocation (the block's
//!    holder owns it exclusively).
//! 2. Only the owner swaps `remote` out (Acquire), while it owns the page: the blocks so taken,
//!    as many as the word says, are the owner's again; `used` (owner-only) counts blocks handed
//!    out and not yet back. The owner never walks the stack it takes: with every block out back
//!    (`count == used`) the page starts over from its first block; otherwise the stack, still
//!    linked, *becomes* the local free list (which is empty whenever the owner looks: it
//!    reclaims a page only once `pop` found nothing). Walking it pulled every block's line
//!    across cores one dependent load at a time; popping it touches each line once, when the
//!    block is reused, with the next one prefetched.
//! 3. Abandon (owner, once): `swap(ABANDONED)` takes the last remote blocks (their count); the
//!    owner then adds `used - taken` to `orphans`. A pusher that finds `ABANDONED` instead
//!    subtracts its batch's count from `orphans`. Whichever operation brings `orphans` to
//!    exactly zero frees the page: the sum of all subtractions is `used - taken`, so zero is
//!    reached once, by the last one.
//! 4. A page is freed by its owner only with `used == 0` (no block out, so no push in flight).
//! 5. `owner` is written before the page's first block is handed out and never while one is out,
//!    so a freer reads it plainly; heap ids are never reused, so a dead heap's pages are only
//!    ever "remote".
//!
//! Under `--cfg spam_loom` (threads are not OS threads) and `--cfg spam_no_slab` (for valgrind
//! and AddressSanitizer, which see only the global allocator's blocks) [`alloc`] and
//! [`dealloc`] forward to the global allocator; the page protocol is modelled on its own.

use crate::sync::atomic::{AtomicUsize, Ordering::*};
use std::alloc::Layout;
use std::cell::Cell;
use std::ptr::{self, NonNull};

/// Bytes per page (and its alignment).
pub const PAGE: usize = 64 * 1024;
/// Bytes at the start of a page taken by its header (three cache lines: see [`Page`]).
const HEADER: usize = 192;
/// Blocks of one page a non-owner gathers before pushing them back with one CAS.
pub const BATCH: usize = 64;
/// The largest block served from pages; larger requests go to the global allocator.
pub const MAX_BLOCK: usize = 1024;
/// The largest alignment served from pages.
const MAX_ALIGN: usize = 64;
/// The block sizes.
const CLASSES: [usize; 20] =
    [16, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 640, 768, 896, 1024];
/// `remote`'s tag once the owner has gone (protocol rule 3).
pub const ABANDONED: usize = 1;

/// A page's `remote` word, unpacked: the top block's offset in the page (0: none) and how many
/// blocks the stack holds. `PAGE` is 2^16, so an offset fits the low 16 bits.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Remote {
    top: usize,
    count: usize,
}

const _: () = assert!(PAGE == 1 << 16 && HEADER > ABANDONED);

impl Remote {
    #[inline]
    fn unpack(w: usize) -> Remote {
        debug_assert_ne!(w, ABANDONED);
        Remote { top: w & (PAGE - 1), count: w >> 16 }
    }
    #[inline]
    fn pack(self) -> usize {
        self.top | self.count << 16
    }
}
/// Empty pages kept for new heaps (4 MiB); more are given back to the system.
#[cfg(not(any(spam_loom, spam_no_slab)))]
const POOL_MAX: usize = 64;

/// The size class of `layout`, or `None` for the global allocator.
#[inline]
pub fn class_of(layout: Layout) -> Option<usize> {
    /// Smallest class holding `16 * i` bytes, for `i` in `0..=64`.
    const LUT: [u8; 65] = {
        let mut t = [0u8; 65];
        let (mut i, mut c) = (0, 0);
        while i < 65 {
            while CLASSES[c] < i * 16 {
                c += 1;
            }
            t[i] = c as u8;
            i += 1;
        }
        t
    };
    let (size, align) = (layout.size(), layout.align());
    if size > MAX_BLOCK || align > MAX_ALIGN {
        return None;
    }
    // A multiple of the alignment: every class that can then be picked for an alignment of 32
    // or 64 is a multiple of it (tested), and blocks start at `HEADER + k * class`.
    let size = if align > 16 { size.next_multiple_of(align) } else { size };
    Some(LUT[size.div_ceil(16)] as usize)
}

/// A free block: its first word links it.
struct Block {
    next: *mut Block,
}

/// A page's header, at its start, three cache lines:
/// 1. `owner` and `size`, read by every free and written only while no block is out (rule 5):
///    the line stays shared in every cache that frees to the page;
/// 2. the owner's `free`, `bump` and `used`, touched only by the owner;
/// 3. `remote` and `orphans`, the freers'.
///
/// (`owner` once shared the owner's line: a free on another core read it there, and the owner's
/// next allocation wrote the line back, so the line moved twice per remote free. In the `big`
/// benchmark at two schedulers that read was a quarter of the process poll's samples.)
#[repr(C, align(64))]
pub struct Page {
    /// Id of the owning heap (rule 5).
    owner: usize,
    /// Block size in bytes.
    size: usize,
    _pad0: [usize; 6],
    /// Owner's free list. (The owner-only fields are `Cell`s: every access goes through a
    /// shared reference, as freers read `owner` and use the atomics at the same time.)
    free: Cell<*mut Block>,
    /// Offset of the first never-used block.
    bump: Cell<usize>,
    /// Blocks handed out by the owner and not back with it (rule 2).
    used: Cell<usize>,
    _pad1: [usize; 5],
    /// Stack of blocks freed by other threads and its length ([`Remote`]), or `ABANDONED`
    /// (rules 1–3).
    remote: AtomicUsize,
    /// After abandon: blocks still out, counted as in rule 3 (may dip below zero meanwhile).
    orphans: AtomicUsize,
}

const _: () = assert!(std::mem::size_of::<Page>() <= HEADER);

/// Starts loading `p`'s line into this core's cache (no effect on what the program computes;
/// nothing where the target has no prefetch instruction).
#[inline(always)]
fn prefetch(p: *const Block) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint: it never faults, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p as *const i8)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// The page holding `block`.
#[inline]
fn page_of(block: *mut u8) -> *mut Page {
    (block as usize & !(PAGE - 1)) as *mut Page
}

impl Page {
    /// Makes `mem` (PAGE bytes, PAGE-aligned) an empty page of `size`-byte blocks owned by `owner`.
    ///
    /// # Safety
    /// `mem` is valid for PAGE bytes, aligned to PAGE, and not in use.
    pub unsafe fn init(mem: NonNull<u8>, owner: usize, size: usize) -> NonNull<Page> {
        let p = mem.cast::<Page>();
        // SAFETY: the caller gives us the memory; a plain write of the whole header.
        unsafe {
            p.as_ptr().write(Page {
                owner,
                size,
                free: Cell::new(ptr::null_mut()),
                bump: Cell::new(HEADER),
                used: Cell::new(0),
                _pad0: [0; 6],
                _pad1: [0; 5],
                remote: AtomicUsize::new(0),
                orphans: AtomicUsize::new(0),
            })
        };
        p
    }

    /// Owner: a block, from the local list or the bump tail; `None` if both are empty.
    #[inline]
    fn pop(&self) -> Option<NonNull<u8>> {
        let b = self.free.get();
        let out = if !b.is_null() {
            // SAFETY: blocks on the owner's list are free and linked (rule 2).
            let next = unsafe { (*b).next };
            self.free.set(next);
            prefetch(next); // the next allocation's line: often last written on another core
            b as *mut u8
        } else if self.bump.get() + self.size <= PAGE {
            let b = (self as *const Page as *mut u8).wrapping_add(self.bump.get());
            self.bump.set(self.bump.get() + self.size);
            b
        } else {
            return None;
        };
        self.used.set(self.used.get() + 1);
        // SAFETY: inside the page, past its header: never null.
        Some(unsafe { NonNull::new_unchecked(out) })
    }

    /// Owner: takes a block back.
    #[inline]
    fn push_local(&self, b: *mut u8) {
        let b = b as *mut Block;
        // SAFETY: the caller owned the block (now free) and we own the page.
        unsafe { (*b).next = self.free.get() };
        self.free.set(b);
        self.count_back(1);
    }

    /// Owner: `n` blocks are back. With every block back, forgets the free list and allocates
    /// from the start again, in address order. (A list left by frees in another order than the
    /// allocations, say a sender's round robin over many receivers, would hand out blocks
    /// scattered over the page, a cache miss each.)
    #[inline]
    fn count_back(&self, n: usize) {
        let used = self.used.get() - n;
        self.used.set(used);
        if used == 0 {
            self.free.set(ptr::null_mut());
            self.bump.set(HEADER);
        }
    }

    /// The block at `offset` in this page.
    #[inline]
    fn at(&self, offset: usize) -> *mut Block {
        (self as *const Page as *mut u8).wrapping_add(offset) as *mut Block
    }

    /// Owner: takes the remote stack back (rule 2), without walking it. Returns how many blocks
    /// came back.
    pub fn reclaim(&self) -> usize {
        if self.remote.load(Relaxed) == 0 {
            return 0;
        }
        // Acquire: the pushers' links (written before their Release CAS) are visible.
        let Remote { top, count } = Remote::unpack(self.remote.swap(0, Acquire));
        if count == self.used.get() {
            // Every block is back: the page starts over (`count_back`), the list unread.
            self.count_back(count);
            return count;
        }
        let top = self.at(top);
        if !self.free.get().is_null() {
            // Blocks on the local list too (not on `alloc_slow`'s path, which reclaims a page
            // after `pop` found nothing): put the stack in front of them.
            let mut tail = top;
            // SAFETY: the swap made the stack's blocks ours, linked and ending in null (rule 1).
            unsafe {
                while !(*tail).next.is_null() {
                    tail = (*tail).next;
                }
                (*tail).next = self.free.get();
            }
        }
        self.free.set(top);
        prefetch(top);
        self.count_back(count);
        count
    }

    /// Owner: every block handed out is back (none out, or all on the remote stack), so a
    /// `reclaim` would start the page over.
    #[inline]
    fn all_back(&self) -> bool {
        let used = self.used.get();
        let w = self.remote.load(Relaxed);
        used == 0 || (w != 0 && Remote::unpack(w).count == used)
    }

    /// Blocks handed out and not back with the owner.
    pub fn used(&self) -> usize {
        self.used.get()
    }

    /// Any thread holding the blocks `head..=tail` (`n` of them, linked by their first word) of
    /// page `page`: gives them back (rule 1), or counts them off an abandoned page (rule 3).
    /// Returns `true` if the caller must free the page (it returned the last block).
    ///
    /// # Safety
    /// The caller owns the `n` blocks, all of `page`, linked `head` → … → `tail`.
    pub unsafe fn push_remote(page: *const Page, head: *mut u8, tail: *mut u8, n: usize) -> bool {
        // SAFETY: the page is alive while any of its blocks is out (rules 3, 4); we hold n.
        let pg = unsafe { &*page };
        let top = head as usize - page as usize;
        let mut cur = pg.remote.load(Relaxed);
        loop {
            if cur == ABANDONED {
                return pg.orphans.fetch_sub(n, AcqRel) == n;
            }
            let below = Remote::unpack(cur);
            let next = if below.top == 0 { ptr::null_mut() } else { pg.at(below.top) };
            // SAFETY: the tail block is ours until the CAS publishes it.
            unsafe { (*(tail as *mut Block)).next = next };
            let new = Remote { top, count: below.count + n }.pack();
            match pg.remote.compare_exchange_weak(cur, new, Release, Relaxed) {
                Ok(_) => return false,
                Err(actual) => cur = actual,
            }
        }
    }

    /// [`push_remote`](Page::push_remote), then frees the page if those were its last blocks.
    ///
    /// # Safety
    /// As `push_remote`.
    unsafe fn give_back(page: *mut Page, head: *mut u8, tail: *mut u8, n: usize) {
        // SAFETY: per the contract.
        if unsafe { Page::push_remote(page, head, tail, n) } {
            // SAFETY: we returned the last block of an abandoned page: nobody else refers to it.
            unsafe { pages::give_back(page) };
        }
    }

    /// Owner, once: gives the page up (rule 3). Returns `true` if the caller must free it now
    /// (no block is out).
    ///
    /// # Safety
    /// The caller owns the page and never touches it again unless told to free it.
    pub unsafe fn abandon(page: *const Page) -> bool {
        // SAFETY: we own the page; its owner fields are ours.
        let pg = unsafe { &*page };
        let back = Remote::unpack(pg.remote.swap(ABANDONED, AcqRel)).count;
        let out = pg.used.get() - back;
        // `orphans` counts down from zero (wrapping) as pushers find the tag; adding what is
        // still out lands on zero exactly when nothing is.
        pg.orphans.fetch_add(out, AcqRel).wrapping_add(out) == 0
    }
}

/// Where a heap's pages come from and go back to.
mod pages {
    use super::*;

    #[cfg(not(any(spam_loom, spam_no_slab)))]
    static POOL: crate::sync::Mutex<Vec<usize>> = crate::sync::Mutex::new(Vec::new());

    fn layout() -> Layout {
        // PAGE is a power of two and fits in isize.
        Layout::from_size_align(PAGE, PAGE).unwrap()
    }

    /// loom models only: pages taken and not given back (to check each is freed exactly once).
    #[cfg(spam_loom)]
    pub static OUT: std::sync::atomic::AtomicIsize = std::sync::atomic::AtomicIsize::new(0);

    /// A fresh page owned by `owner` for blocks of `size` bytes.
    pub(super) fn take(owner: usize, size: usize) -> NonNull<Page> {
        #[cfg(spam_loom)]
        OUT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        #[cfg(not(any(spam_loom, spam_no_slab)))]
        if let Some(p) = POOL.lock().pop() {
            // SAFETY: pooled pages are PAGE-sized, PAGE-aligned and unused.
            return unsafe { Page::init(NonNull::new_unchecked(p as *mut u8), owner, size) };
        }
        // Straight from the system: the program's global allocator is not ours to depend on.
        // SAFETY: the layout has a non-zero size.
        let mem = unsafe { std::alloc::GlobalAlloc::alloc(&std::alloc::System, layout()) };
        let Some(mem) = NonNull::new(mem) else { std::alloc::handle_alloc_error(layout()) };
        SYSTEM_BYTES.fetch_add(PAGE, std::sync::atomic::Ordering::Relaxed);
        // SAFETY: just allocated with the page layout.
        unsafe { Page::init(mem, owner, size) }
    }

    /// Gives an empty page back (to the pool, or to the system once the pool is full).
    ///
    /// # Safety
    /// No block of the page is out, and nobody references it any more.
    pub unsafe fn give_back(page: *mut Page) {
        #[cfg(spam_loom)]
        assert!(OUT.fetch_sub(1, std::sync::atomic::Ordering::Relaxed) > 0, "a page freed twice");
        #[cfg(not(any(spam_loom, spam_no_slab)))]
        {
            let mut pool = POOL.lock();
            if pool.len() < POOL_MAX {
                pool.push(page as usize);
                return;
            }
        }
        SYSTEM_BYTES.fetch_sub(PAGE, std::sync::atomic::Ordering::Relaxed);
        // SAFETY: allocated by `take` from the system with this layout.
        unsafe { std::alloc::GlobalAlloc::dealloc(&std::alloc::System, page as *mut u8, layout()) };
    }
}

/// Bytes of pages taken from the system and not given back (a plain std atomic, outside the
/// sync shim: a statistic, updated once per 64 KiB page).
static SYSTEM_BYTES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Bytes this allocator holds from the system, process-wide: its pages, used or pooled. Memory
/// accounting that counts the global allocator (a counting `#[global_allocator]`) must add this,
/// since task cells and message nodes do not come from there.
pub fn system_bytes() -> usize {
    SYSTEM_BYTES.load(std::sync::atomic::Ordering::Relaxed)
}

/// loom models only: pages taken from the system and not yet freed.
#[cfg(spam_loom)]
pub fn loom_pages_out() -> isize {
    pages::OUT.load(std::sync::atomic::Ordering::Relaxed)
}

/// Pages of one class in a heap.
struct Class {
    /// The page allocations come from.
    current: *mut Page,
    /// Every page of the class the heap owns (including `current`).
    pages: Vec<*mut Page>,
    /// Where the next search for a page with free blocks starts.
    cursor: usize,
}

impl Class {
    /// A block of the current page, else of the next of up to [`SEARCH`] other pages, among
    /// those `take` accepts (their remote frees reclaimed first); the page it came from
    /// becomes current.
    fn reuse(&mut self, take: impl Fn(&Page) -> bool) -> Option<NonNull<u8>> {
        // SAFETY: every page in `pages` (and `current`) is owned by this heap and alive.
        let page = |p: *mut Page| unsafe { &*p };
        if !self.current.is_null() && take(page(self.current)) {
            page(self.current).reclaim();
            if let Some(b) = page(self.current).pop() {
                return Some(b);
            }
        }
        let n = self.pages.len();
        for _ in 0..n.min(SEARCH) {
            self.cursor = (self.cursor + 1) % n;
            let p = self.pages[self.cursor];
            if p != self.current && take(page(p)) {
                page(p).reclaim();
                if let Some(b) = page(p).pop() {
                    self.current = p;
                    return Some(b);
                }
            }
        }
        None
    }
}

/// A non-owner's gathered frees: up to `BATCH` blocks of one page.
struct Pending {
    page: *mut Page,
    head: *mut u8,
    tail: *mut u8,
    n: usize,
}

impl Pending {
    const NONE: Pending = Pending { page: ptr::null_mut(), head: ptr::null_mut(), tail: ptr::null_mut(), n: 0 };
}

/// A thread's allocator state: its pages and its pending batch of remote frees.
pub struct Heap {
    /// Unique for the process's life (rule 5); assigned on first allocation (0: none yet).
    id: usize,
    classes: [Class; CLASSES.len()],
    pending: Pending,
}

// SAFETY: a heap's pages are owned by the heap (its id), not by a thread: whoever has the
// `&mut Heap` is the owner, one thread at a time. The pending batch's blocks are the heap's too.
unsafe impl Send for Heap {}

/// Pages searched for free blocks before a new one is taken.
const SEARCH: usize = 8;

/// Pages of a class a heap takes fresh before it reuses partly returned ones
/// (`Heap::alloc_slow`, step 2).
const FRESH_PAGES: usize = 4;

impl Default for Heap {
    fn default() -> Self {
        Self::new()
    }
}

impl Heap {
    pub const fn new() -> Heap {
        const EMPTY: Class = Class { current: ptr::null_mut(), pages: Vec::new(), cursor: 0 };
        Heap { id: 0, classes: [EMPTY; CLASSES.len()], pending: Pending::NONE }
    }

    /// A block of class `class`.
    #[inline]
    pub fn alloc(&mut self, class: usize) -> NonNull<u8> {
        let cur = self.classes[class].current;
        if !cur.is_null() {
            // SAFETY: our current page, owned by this heap.
            if let Some(b) = unsafe { (*cur).pop() } {
                return b;
            }
        }
        self.alloc_slow(class)
    }

    #[cold]
    fn alloc_slow(&mut self, class: usize) -> NonNull<u8> {
        if self.id == 0 {
            static NEXT_ID: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);
            self.id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        let c = &mut self.classes[class];
        // 1. A page with every block back starts over and hands blocks out in address order.
        if let Some(b) = c.reuse(Page::all_back) {
            return b;
        }
        // 2. While the class has few pages, a fresh one rather than a partly returned one's
        //    free list, which other threads' frees leave scattered over the page: a sender whose
        //    receivers lag a little would otherwise allocate every node through a miss.
        // 3. Then whatever came back.
        if c.pages.len() >= FRESH_PAGES {
            if let Some(b) = c.reuse(|_| true) {
                return b;
            }
        }
        self.fresh(class)
    }

    /// A block of a fresh page, which becomes the class's current one.
    fn fresh(&mut self, class: usize) -> NonNull<u8> {
        let c = &mut self.classes[class];
        let p = pages::take(self.id, CLASSES[class]).as_ptr();
        c.pages.push(p);
        c.current = p;
        // SAFETY: a fresh page of ours with every block free.
        unsafe { (*p).pop() }.expect("a fresh page has a free block")
    }

    /// Frees a block of any page, from this thread.
    ///
    /// # Safety
    /// `b` was returned by an [`alloc`](Heap::alloc) of any heap, and is not used again.
    #[inline]
    pub unsafe fn free(&mut self, b: NonNull<u8>) {
        let b = b.as_ptr();
        let page = page_of(b);
        // SAFETY: the page is alive while `b` is out; `owner` is read plainly (rule 5).
        if unsafe { (*page).owner } == self.id {
            // SAFETY: our page.
            unsafe { (*page).push_local(b) };
            return;
        }
        let p = &mut self.pending;
        if p.page == page && p.n < BATCH {
            // SAFETY: `b` is ours now; link it in front of the batch.
            unsafe { (*(b as *mut Block)).next = p.head as *mut Block };
            p.head = b;
            p.n += 1;
            return;
        }
        self.flush();
        self.pending = Pending { page, head: b, tail: b, n: 1 };
    }

    /// loom models only: reclaims the remote frees of `class`'s current page (what
    /// `alloc_slow` does first), and says how many blocks came back and how many are still out.
    #[cfg(spam_loom)]
    pub fn loom_reclaim(&mut self, class: usize) -> (usize, usize) {
        // SAFETY: our current page.
        let p = unsafe { &*self.classes[class].current };
        (p.reclaim(), p.used())
    }

    /// Pushes the pending batch back to its page.
    pub fn flush(&mut self) {
        let p = std::mem::replace(&mut self.pending, Pending::NONE);
        if p.n == 0 {
            return;
        }
        // SAFETY: the batch holds `n` blocks of `page`, linked head → tail.
        unsafe { Page::give_back(p.page, p.head, p.tail, p.n) };
    }
}

impl Drop for Heap {
    fn drop(&mut self) {
        self.flush();
        for c in &mut self.classes {
            for &p in &c.pages {
                // SAFETY: our page, given up once here.
                if unsafe { Page::abandon(p) } {
                    // SAFETY: no block is out.
                    unsafe { pages::give_back(p) };
                }
            }
            c.pages.clear();
            c.current = ptr::null_mut();
        }
    }
}

#[cfg(not(any(spam_loom, spam_no_slab)))]
mod local {
    use super::*;
    use std::cell::UnsafeCell;

    /// This thread's heap; dropped at thread exit (its pages are abandoned then).
    struct Local(UnsafeCell<Heap>);

    impl Drop for Local {
        fn drop(&mut self) {
            // Before the heap goes: from here on this thread takes the slow path, and finds
            // `HEAP` gone.
            FAST.with(|f| f.set(ptr::null_mut()));
        }
    }

    std::thread_local! {
        static HEAP: Local = const { Local(UnsafeCell::new(Heap::new())) };
        /// `HEAP`'s heap while it is alive, null before its first use and once it is dropped.
        /// A thread-local without a destructor is one load; `HEAP.try_with` checks the
        /// destructor's registration on every call (the send and receive paths each take one).
        static FAST: Cell<*mut Heap> = const { Cell::new(ptr::null_mut()) };
    }

    /// For threads whose heap is gone (allocations from other thread-locals' destructors).
    static SHARED: std::sync::Mutex<Heap> = std::sync::Mutex::new(Heap::new());

    /// Runs `f` on this thread's heap; `None` once the heap is gone. `f` must not re-enter this
    /// module (`Heap`'s methods call out only to the system allocator and `Vec` growth).
    #[inline]
    fn with_heap<R>(f: impl FnOnce(&mut Heap) -> R) -> Option<R> {
        let h = FAST.with(|c| c.get());
        if !h.is_null() {
            // SAFETY: `FAST` holds this thread's live heap (set below, cleared before the heap
            // drops); nothing else borrows it now (`f` does not re-enter).
            return Some(f(unsafe { &mut *h }));
        }
        with_heap_slow(f)
    }

    #[cold]
    fn with_heap_slow<R>(f: impl FnOnce(&mut Heap) -> R) -> Option<R> {
        HEAP.try_with(|l| {
            let h = l.0.get();
            FAST.with(|c| c.set(h));
            // SAFETY: as in `with_heap`: this thread's heap, alive inside `try_with`.
            f(unsafe { &mut *h })
        })
        .ok()
    }

    #[inline]
    pub(super) fn alloc(class: usize) -> NonNull<u8> {
        match with_heap(|h| h.alloc(class)) {
            Some(b) => b,
            None => SHARED.lock().unwrap_or_else(|e| e.into_inner()).alloc(class),
        }
    }

    #[inline]
    pub(super) unsafe fn free(b: NonNull<u8>) {
        // SAFETY: the caller passes a block it owns.
        if with_heap(|h| unsafe { h.free(b) }).is_none() {
            // This thread's heap is gone: give the block back on its own.
            // SAFETY: the caller owns the block; a batch of one.
            unsafe { Page::give_back(page_of(b.as_ptr()), b.as_ptr(), b.as_ptr(), 1) };
        }
    }

    pub(super) fn flush() {
        with_heap(Heap::flush);
    }
}

/// Allocates `layout` from this thread's heap (or the global allocator for a large or
/// over-aligned layout).
///
/// # Safety
/// `layout` has a non-zero size.
#[inline]
pub unsafe fn alloc(layout: Layout) -> NonNull<u8> {
    #[cfg(not(any(spam_loom, spam_no_slab)))]
    if let Some(c) = class_of(layout) {
        return local::alloc(c);
    }
    // SAFETY: non-zero size, by the caller's contract.
    let p = unsafe { std::alloc::alloc(layout) };
    NonNull::new(p).unwrap_or_else(|| std::alloc::handle_alloc_error(layout))
}

/// Frees what [`alloc`] returned for the same `layout`, from any thread.
///
/// # Safety
/// `p` came from `alloc(layout)` and is not used again.
#[inline]
pub unsafe fn dealloc(p: NonNull<u8>, layout: Layout) {
    #[cfg(not(any(spam_loom, spam_no_slab)))]
    if class_of(layout).is_some() {
        // SAFETY: a slab block (the layout decided so at allocation too), owned by the caller.
        return unsafe { local::free(p) };
    }
    // SAFETY: from `std::alloc::alloc(layout)`, by the caller's contract.
    unsafe { std::alloc::dealloc(p.as_ptr(), layout) }
}

/// Pushes this thread's pending remote frees back to their page (a worker calls this before it
/// parks, so an idle thread strands no blocks).
#[inline]
pub fn flush() {
    #[cfg(not(any(spam_loom, spam_no_slab)))]
    local::flush();
}

/// An owned value in a block of this allocator: `Box` on the runtime's allocation path.
/// Unsizing is done by hand: [`into_raw`](SlabBox::into_raw), cast, [`from_raw`](SlabBox::from_raw).
pub struct SlabBox<T: ?Sized>(NonNull<T>);

// SAFETY: a SlabBox uniquely owns its value, like Box; blocks may be freed from any thread.
unsafe impl<T: ?Sized + Send> Send for SlabBox<T> {}
// SAFETY: shared access only hands out `&T`.
unsafe impl<T: ?Sized + Sync> Sync for SlabBox<T> {}

impl<T> SlabBox<T> {
    /// Moves `value` into a block.
    #[inline]
    pub fn new(value: T) -> SlabBox<T> {
        let layout = Layout::new::<T>();
        let p = if layout.size() == 0 {
            NonNull::dangling()
        } else {
            // SAFETY: a non-zero size.
            unsafe { alloc(layout) }.cast::<T>()
        };
        // SAFETY: fresh memory for a T.
        unsafe { p.as_ptr().write(value) };
        SlabBox(p)
    }

    /// Moves the value out and frees the block.
    #[inline]
    pub fn into_inner(b: SlabBox<T>) -> T {
        let p = SlabBox::into_raw(b);
        // SAFETY: we own the value; it is read once and its block freed without dropping it.
        unsafe {
            let v = p.as_ptr().read();
            free_block(p.cast(), Layout::new::<T>());
            v
        }
    }
}

impl<T: ?Sized> SlabBox<T> {
    /// Gives up ownership without dropping (see [`from_raw`](SlabBox::from_raw)).
    #[inline]
    pub fn into_raw(b: SlabBox<T>) -> NonNull<T> {
        let p = b.0;
        std::mem::forget(b);
        p
    }

    /// Takes ownership back.
    ///
    /// # Safety
    /// `p` came from [`into_raw`](SlabBox::into_raw) of a `SlabBox<U>`, where `T` is `U` or
    /// `U` unsized (same address and layout), and nobody else owns it.
    #[inline]
    pub unsafe fn from_raw(p: NonNull<T>) -> SlabBox<T> {
        SlabBox(p)
    }
}

/// Frees a block (or does nothing for a zero-sized layout).
///
/// # Safety
/// As [`dealloc`], the value in it already dropped or moved out.
#[inline]
unsafe fn free_block(p: NonNull<u8>, layout: Layout) {
    if layout.size() != 0 {
        // SAFETY: per the contract.
        unsafe { dealloc(p, layout) }
    }
}

impl<T: ?Sized> Drop for SlabBox<T> {
    fn drop(&mut self) {
        /// Frees the block even if the value's drop unwinds.
        struct Free(NonNull<u8>, Layout);
        impl Drop for Free {
            fn drop(&mut self) {
                // SAFETY: the value is dropped (or unwinding from its drop); the block is ours.
                unsafe { free_block(self.0, self.1) }
            }
        }
        // SAFETY: we own a live value.
        let layout = Layout::for_value(unsafe { self.0.as_ref() });
        let _free = Free(self.0.cast(), layout);
        // SAFETY: dropped once, in place; the block is freed after it by `_free`.
        unsafe { ptr::drop_in_place(self.0.as_ptr()) };
    }
}

impl<T: ?Sized> std::ops::Deref for SlabBox<T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: we own a live value.
        unsafe { self.0.as_ref() }
    }
}

impl<T: ?Sized> std::ops::DerefMut for SlabBox<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: we own it exclusively.
        unsafe { self.0.as_mut() }
    }
}

#[cfg(all(test, not(any(spam_loom, spam_no_slab))))]
mod tests {
    use super::*;

    /// Another thread's heap frees `blocks` (each handed over once) and drops, flushing its
    /// pending batch.
    fn free_elsewhere(blocks: Vec<usize>) {
        std::thread::spawn(move || {
            let mut other = Heap::new();
            for b in blocks {
                // SAFETY: each block handed over once.
                unsafe { other.free(NonNull::new(b as *mut u8).unwrap()) };
            }
        })
        .join()
        .unwrap()
    }

    #[test]
    fn classes_fit_their_layouts_and_alignments() {
        for size in 1..=MAX_BLOCK {
            for align in [1, 2, 4, 8, 16, 32, 64] {
                let l = Layout::from_size_align(size, align).unwrap();
                let c = class_of(l).unwrap();
                assert!(CLASSES[c] >= size, "{size}/{align} -> {}", CLASSES[c]);
                assert_eq!((HEADER + CLASSES[c]) % align, 0, "{size}/{align} -> {}", CLASSES[c]);
            }
        }
        assert_eq!(class_of(Layout::from_size_align(MAX_BLOCK + 1, 8).unwrap()), None);
        assert_eq!(class_of(Layout::from_size_align(64, 128).unwrap()), None);
    }

    #[test]
    fn owner_reuses_its_frees_without_new_pages() {
        let mut h = Heap::new();
        let a = h.alloc(1);
        // SAFETY: a block of ours, freed once.
        unsafe { h.free(a) };
        assert_eq!(h.alloc(1), a, "the freed block comes back first");
        assert_eq!(h.classes[1].pages.len(), 1);
    }

    /// Rule 2: a partial return becomes the free list as it came (its blocks are the next ones
    /// handed out, no new page); once every block out is back, the count says so and the page
    /// starts over at its first block, in address order.
    #[test]
    fn remote_counts_stay_true_over_partial_and_whole_returns() {
        let mut owner = Heap::new();
        let blocks: Vec<usize> = (0..3 * BATCH).map(|_| owner.alloc(1).as_ptr() as usize).collect();
        let first = blocks[0];
        let page = owner.classes[1].current;
        free_elsewhere(blocks[..BATCH + 1].to_vec());
        // SAFETY: the owner's page, on the owner's thread.
        let pg = unsafe { &*page };
        assert_eq!((pg.reclaim(), pg.used()), (BATCH + 1, 2 * BATCH - 1), "taken: blocks still out");
        assert_eq!(pg.remote.load(Relaxed), 0);
        let again: Vec<usize> = (0..BATCH + 1).map(|_| owner.alloc(1).as_ptr() as usize).collect();
        let (mut a, mut b) = (again.clone(), blocks[..BATCH + 1].to_vec());
        a.sort_unstable();
        b.sort_unstable();
        assert_eq!(a, b, "the blocks given back are handed out again, each once");
        free_elsewhere(blocks[BATCH + 1..].iter().chain(&again).copied().collect());
        assert_eq!((pg.reclaim(), pg.used()), (3 * BATCH, 0), "every block back: counted, not walked");
        assert_eq!(pg.remote.load(Relaxed), 0);
        assert_eq!(owner.alloc(1).as_ptr() as usize, first, "the page starts over at its first block");
    }

    #[test]
    fn remote_frees_come_back_in_batches_and_pages_are_reused() {
        let mut owner = Heap::new();
        let per_page = (PAGE - HEADER) / CLASSES[1];
        let blocks: Vec<usize> = (0..per_page).map(|_| owner.alloc(1).as_ptr() as usize).collect();
        assert_eq!(owner.classes[1].pages.len(), 1);
        let page = owner.classes[1].current;
        free_elsewhere(blocks);
        // SAFETY: the owner's page.
        assert_eq!(unsafe { (*page).reclaim() }, per_page);
        // SAFETY: as above.
        assert_eq!(unsafe { (*page).used() }, 0);
        for _ in 0..per_page {
            owner.alloc(1);
        }
        assert_eq!(owner.classes[1].pages.len(), 1, "all blocks reused, no second page");
    }

    /// `alloc_slow`: a page with one block still out is passed over for a fresh page while the
    /// class has few pages (its free list would be scattered); once every block is back, the
    /// page is used again from its first block, before any new page is taken.
    #[test]
    fn a_wholly_returned_page_is_preferred_to_a_partly_returned_one() {
        let mut owner = Heap::new();
        let per_page = (PAGE - HEADER) / CLASSES[1];
        let blocks: Vec<usize> = (0..per_page).map(|_| owner.alloc(1).as_ptr() as usize).collect();
        let first = blocks[0];
        free_elsewhere(blocks[1..].to_vec()); // all but the first: partly returned
        owner.alloc(1);
        assert_eq!(owner.classes[1].pages.len(), 2, "a fresh page, not the scattered free list");
        free_elsewhere(vec![first]); // now every block of the first page is back
        let rest = per_page - 1; // the fresh page's other blocks
        for _ in 0..rest {
            owner.alloc(1);
        }
        assert_eq!(owner.alloc(1).as_ptr() as usize, first, "the whole page starts over, in address order");
        assert_eq!(owner.classes[1].pages.len(), 2);
    }

    #[test]
    fn abandoned_page_is_freed_by_its_last_block() {
        let mut owner = Heap::new();
        let blocks: Vec<NonNull<u8>> = (0..3).map(|_| owner.alloc(4)).collect();
        let page = owner.classes[4].current;
        drop(owner); // abandons: three blocks still out
                     // SAFETY: the page stays alive while its blocks are out.
        assert_eq!(unsafe { (*page).remote.load(Relaxed) }, ABANDONED);
        // SAFETY: each block is ours, given back once; the page lives until the last.
        unsafe {
            assert!(!Page::push_remote(page, blocks[0].as_ptr(), blocks[0].as_ptr(), 1));
            assert!(!Page::push_remote(page, blocks[1].as_ptr(), blocks[1].as_ptr(), 1));
            assert!(Page::push_remote(page, blocks[2].as_ptr(), blocks[2].as_ptr(), 1), "the last one frees");
            pages::give_back(page);
        }
    }

    #[test]
    fn heap_dropped_with_a_flush_pending_frees_nothing_twice() {
        let mut a = Heap::new();
        let mut b = Heap::new();
        let x = a.alloc(2);
        let y = a.alloc(2);
        // SAFETY: blocks freed once each by a non-owner.
        unsafe {
            b.free(x);
            b.free(y);
        }
        drop(a); // abandons with two blocks out, both in b's pending batch
        drop(b); // the flush returns the last two: the page is freed exactly once
    }

    #[test]
    fn public_alloc_and_dealloc_round_trip_across_threads() {
        let l = Layout::new::<[u64; 5]>();
        // SAFETY: a non-zero size; each block freed once with its layout.
        let v: Vec<usize> = (0..10_000).map(|_| unsafe { alloc(l) }.as_ptr() as usize).collect();
        std::thread::spawn(move || {
            for p in v {
                // SAFETY: as above.
                unsafe { dealloc(NonNull::new(p as *mut u8).unwrap(), l) };
            }
        })
        .join()
        .unwrap();
        let big = Layout::from_size_align(4096, 8).unwrap();
        // SAFETY: as above; a large layout goes to the global allocator and back.
        unsafe { dealloc(alloc(big), big) };
    }
}
