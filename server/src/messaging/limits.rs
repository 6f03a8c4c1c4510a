//! Size limits and per-session rate limits of the Messenger.

use std::time::{Duration, Instant};

/// Message text, in characters (error 23).
pub const MAX_TEXT_CHARS: usize = 5000;
/// Conversation title, in characters (IM API: "max 50 characters").
pub const MAX_TITLE_CHARS: usize = 50;
/// Conversation custom data, serialised JSON bytes ("up to 5 KB").
pub const MAX_CONVERSATION_CUSTOM_DATA: usize = 5 * 1024;
/// User custom data and private custom data, serialised JSON bytes each (undocumented by
/// Voximplant; the conversation figure is used).
pub const MAX_USER_CUSTOM_DATA: usize = 5 * 1024;
/// Message payload (the array of objects), serialised JSON bytes (undocumented by Voximplant).
pub const MAX_MESSAGE_PAYLOAD: usize = 10 * 1024;
/// Participants of one conversation ("chat rooms up to 1000 users").
pub const MAX_PARTICIPANTS: usize = 1000;
/// `getConversations` uuids per call.
pub const MAX_GET_CONVERSATIONS: usize = 30;
/// `getUsers` users per call.
pub const MAX_GET_USERS: usize = 50;
/// Events per `retransmitEvents` call.
pub const MAX_RETRANSMIT: u64 = 100;
/// `subscribe` / `unsubscribe` ids per call.
pub const MAX_SUBSCRIBE_IDS: usize = 1000;

/// Per-session request limits (every messaging request counts). 0 disables a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    pub per_second: u32,
    pub per_minute: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        // The Web SDK itself sends at most ~4.5 requests per second (one per 220 ms).
        RateLimits {
            per_second: 20,
            per_minute: 600,
        }
    }
}

/// Which limit a request hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimited {
    PerSecond(u32),
    PerMinute(u32),
}

/// Fixed-window counters for one session.
#[derive(Debug)]
pub struct RateLimiter {
    limits: RateLimits,
    second_start: Instant,
    second_count: u32,
    minute_start: Instant,
    minute_count: u32,
}

impl RateLimiter {
    pub fn new(limits: RateLimits, now: Instant) -> Self {
        RateLimiter {
            limits,
            second_start: now,
            second_count: 0,
            minute_start: now,
            minute_count: 0,
        }
    }

    /// Count one request at `now`; a refused request is not counted.
    pub fn check(&mut self, now: Instant) -> Result<(), RateLimited> {
        if now.duration_since(self.second_start) >= Duration::from_secs(1) {
            self.second_start = now;
            self.second_count = 0;
        }
        if now.duration_since(self.minute_start) >= Duration::from_secs(60) {
            self.minute_start = now;
            self.minute_count = 0;
        }
        let l = self.limits;
        if l.per_second > 0 && self.second_count >= l.per_second {
            return Err(RateLimited::PerSecond(l.per_second));
        }
        if l.per_minute > 0 && self.minute_count >= l.per_minute {
            return Err(RateLimited::PerMinute(l.per_minute));
        }
        self.second_count += 1;
        self.minute_count += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows() {
        let t0 = Instant::now();
        let mut r = RateLimiter::new(
            RateLimits {
                per_second: 2,
                per_minute: 3,
            },
            t0,
        );
        assert!(r.check(t0).is_ok());
        assert!(r.check(t0).is_ok());
        assert_eq!(r.check(t0), Err(RateLimited::PerSecond(2)));
        let t1 = t0 + Duration::from_millis(1100);
        assert!(r.check(t1).is_ok());
        assert_eq!(r.check(t1), Err(RateLimited::PerMinute(3)));
        let t2 = t0 + Duration::from_secs(61);
        assert!(r.check(t2).is_ok());
    }

    #[test]
    fn zero_disables() {
        let t0 = Instant::now();
        let mut r = RateLimiter::new(
            RateLimits {
                per_second: 0,
                per_minute: 0,
            },
            t0,
        );
        for _ in 0..10_000 {
            assert!(r.check(t0).is_ok());
        }
    }
}
