//! A period is counted before its weeks are listed: `weeks_at_most` over chrono's whole range
//! (27 million weeks, 219 MB as a list) allocates nothing. Measured with a counting allocator,
//! which is why this is a test binary of its own (the allocator is global to the binary).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::NaiveDate;
use flowmeter::time::weeks_at_most;

struct Counting;

static ALLOCATED: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATED.fetch_add(layout.size(), Ordering::SeqCst);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn a_huge_period_is_refused_without_listing_its_weeks() {
    let before = ALLOCATED.load(Ordering::SeqCst);
    let refused = weeks_at_most(NaiveDate::MIN, NaiveDate::MAX, 156);
    let allocated = ALLOCATED.load(Ordering::SeqCst) - before;
    assert!(matches!(refused, Err(n) if n > 27_000_000), "{refused:?}");
    assert_eq!(
        allocated, 0,
        "refusing the period allocated {allocated} bytes"
    );
    // Within the limit it lists: 2024-01-01 (Monday) .. 2026-12-27 (Sunday) is 156 weeks.
    let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).expect("date");
    assert_eq!(
        weeks_at_most(d(2024, 1, 1), d(2026, 12, 27), 156).map(|w| w.len()),
        Ok(156)
    );
    assert_eq!(weeks_at_most(d(2024, 1, 1), d(2026, 12, 28), 156), Err(157));
}
