//! Participant permission bits (`flags` of a participant).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::ops::{BitAnd, BitOr, BitOrAssign};

/// The `flags` number of a participant.
///
/// Bits: write 1, edit 2, remove 4, manage participants 8, edit all 16, remove all 32,
/// owner 32768; 65535 means everything. Bits 6–14 are unused.
///
/// Two readings exist, and both are offered:
/// * the raw bit test [`contains`](Self::contains), for a server that keeps its own rules;
/// * the Web SDK's reading (`transport-and-login.md` §6.3), used by the `can_*` / `is_owner`
///   accessors and [`ParticipantPermissions::from`]: 65535 grants everything including
///   ownership; otherwise a participant is an owner only if `32768 < flags < 65535` (so exactly
///   32768 reads as *not* owner), and the six capabilities come from the low six bits.
///
/// A server that wants every SDK to see an owner should therefore send 65535 (or 32768 plus at
/// least one low bit).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Permissions(pub u32);

impl Permissions {
    pub const NONE: Permissions = Permissions(0);
    pub const WRITE: Permissions = Permissions(1);
    pub const EDIT: Permissions = Permissions(2);
    pub const REMOVE: Permissions = Permissions(4);
    pub const MANAGE_PARTICIPANTS: Permissions = Permissions(8);
    pub const EDIT_ALL: Permissions = Permissions(16);
    pub const REMOVE_ALL: Permissions = Permissions(32);
    pub const OWNER: Permissions = Permissions(32768);
    pub const ALL: Permissions = Permissions(65535);
    /// What `createConversation` sends instead of 0: write, edit and remove own messages.
    pub const CREATE_DEFAULT: Permissions = Permissions(7);

    const CAPABILITIES: u32 = 0b11_1111;

    pub fn bits(self) -> u32 {
        self.0
    }

    pub fn from_bits(bits: u32) -> Self {
        Permissions(bits)
    }

    /// Raw bit test: every bit of `other` is set.
    pub fn contains(self, other: Permissions) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn insert(&mut self, other: Permissions) {
        self.0 |= other.0;
    }

    pub fn remove(&mut self, other: Permissions) {
        self.0 &= !other.0;
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The flags `createConversation` sends for these: 0 becomes [`CREATE_DEFAULT`](Self::CREATE_DEFAULT).
    pub fn for_create(self) -> Self {
        if self.is_empty() {
            Permissions::CREATE_DEFAULT
        } else {
            self
        }
    }

    fn capability(self, bit: Permissions) -> bool {
        self == Permissions::ALL || (self.0 & Self::CAPABILITIES & bit.0) != 0
    }

    /// Owner, as the Web SDK reads it (see the type's documentation).
    pub fn is_owner(self) -> bool {
        self == Permissions::ALL || (Permissions::OWNER.0 < self.0 && self.0 < Permissions::ALL.0)
    }

    pub fn can_write(self) -> bool {
        self.capability(Permissions::WRITE)
    }

    pub fn can_edit(self) -> bool {
        self.capability(Permissions::EDIT)
    }

    pub fn can_remove(self) -> bool {
        self.capability(Permissions::REMOVE)
    }

    pub fn can_manage_participants(self) -> bool {
        self.capability(Permissions::MANAGE_PARTICIPANTS)
    }

    pub fn can_edit_all(self) -> bool {
        self.capability(Permissions::EDIT_ALL)
    }

    pub fn can_remove_all(self) -> bool {
        self.capability(Permissions::REMOVE_ALL)
    }
}

impl BitOr for Permissions {
    type Output = Permissions;
    fn bitor(self, rhs: Permissions) -> Permissions {
        Permissions(self.0 | rhs.0)
    }
}

impl BitOrAssign for Permissions {
    fn bitor_assign(&mut self, rhs: Permissions) {
        self.0 |= rhs.0;
    }
}

impl BitAnd for Permissions {
    type Output = Permissions;
    fn bitand(self, rhs: Permissions) -> Permissions {
        Permissions(self.0 & rhs.0)
    }
}

impl fmt::Debug for Permissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == Permissions::ALL {
            return write!(f, "Permissions(ALL)");
        }
        let names = [
            (Permissions::WRITE, "WRITE"),
            (Permissions::EDIT, "EDIT"),
            (Permissions::REMOVE, "REMOVE"),
            (Permissions::MANAGE_PARTICIPANTS, "MANAGE_PARTICIPANTS"),
            (Permissions::EDIT_ALL, "EDIT_ALL"),
            (Permissions::REMOVE_ALL, "REMOVE_ALL"),
            (Permissions::OWNER, "OWNER"),
        ];
        let set: Vec<&str> = names
            .iter()
            .filter(|(p, _)| self.contains(*p))
            .map(|(_, n)| *n)
            .collect();
        write!(
            f,
            "Permissions({} = {})",
            self.0,
            if set.is_empty() {
                "NONE".to_owned()
            } else {
                set.join("|")
            }
        )
    }
}

impl Serialize for Permissions {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(self.0)
    }
}

impl<'de> Deserialize<'de> for Permissions {
    /// Accepts what the SDK's `Number()` accepts: an integer or a numeric string.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = super::de::u64_lenient(d)?;
        u32::try_from(v)
            .map(Permissions)
            .map_err(|_| serde::de::Error::custom(format_args!("flags {v} out of range")))
    }
}

/// The participant booleans of the SDKs, and their encoding to and from [`Permissions`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ParticipantPermissions {
    pub can_write: bool,
    pub can_edit: bool,
    pub can_remove: bool,
    pub can_manage_participants: bool,
    pub can_edit_all: bool,
    pub can_remove_all: bool,
    pub is_owner: bool,
}

impl From<ParticipantPermissions> for Permissions {
    /// The SDK's encoding: the sum of the bits of the booleans that are set (never 65535).
    fn from(p: ParticipantPermissions) -> Permissions {
        let mut out = Permissions::NONE;
        for (set, bit) in [
            (p.can_write, Permissions::WRITE),
            (p.can_edit, Permissions::EDIT),
            (p.can_remove, Permissions::REMOVE),
            (p.can_manage_participants, Permissions::MANAGE_PARTICIPANTS),
            (p.can_edit_all, Permissions::EDIT_ALL),
            (p.can_remove_all, Permissions::REMOVE_ALL),
            (p.is_owner, Permissions::OWNER),
        ] {
            if set {
                out |= bit;
            }
        }
        out
    }
}

impl From<Permissions> for ParticipantPermissions {
    /// The Web SDK's reading (see [`Permissions`]).
    fn from(p: Permissions) -> ParticipantPermissions {
        ParticipantPermissions {
            can_write: p.can_write(),
            can_edit: p.can_edit(),
            can_remove: p.can_remove(),
            can_manage_participants: p.can_manage_participants(),
            can_edit_all: p.can_edit_all(),
            can_remove_all: p.can_remove_all(),
            is_owner: p.is_owner(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_true() -> ParticipantPermissions {
        ParticipantPermissions {
            can_write: true,
            can_edit: true,
            can_remove: true,
            can_manage_participants: true,
            can_edit_all: true,
            can_remove_all: true,
            is_owner: true,
        }
    }

    #[test]
    fn encoding_matches_the_sdk() {
        assert_eq!(
            Permissions::from(ParticipantPermissions::default()),
            Permissions(0)
        );
        let w = ParticipantPermissions {
            can_write: true,
            ..Default::default()
        };
        assert_eq!(Permissions::from(w), Permissions(1));
        let o = ParticipantPermissions {
            is_owner: true,
            ..Default::default()
        };
        assert_eq!(Permissions::from(o), Permissions(32768));
        assert_eq!(Permissions::from(all_true()), Permissions(32831));
        // The vector frames: canWrite+canEdit = 3; +canManageParticipants = 11; owner+manage = 32776.
        assert_eq!(Permissions::WRITE | Permissions::EDIT, Permissions(3));
        assert_eq!(
            Permissions::WRITE | Permissions::EDIT | Permissions::MANAGE_PARTICIPANTS,
            Permissions(11)
        );
        assert_eq!(
            Permissions::OWNER | Permissions::MANAGE_PARTICIPANTS,
            Permissions(32776)
        );
        assert_eq!(Permissions(0).for_create(), Permissions(7));
        assert_eq!(Permissions(1).for_create(), Permissions(1));
    }

    #[test]
    fn decoding_follows_the_sdk_rule() {
        assert_eq!(ParticipantPermissions::from(Permissions::ALL), all_true());
        // Exactly 32768 is not an owner; anything strictly between is.
        assert!(!Permissions(32768).is_owner());
        assert!(Permissions(32769).is_owner());
        assert!(Permissions(32831).is_owner());
        assert!(Permissions(65534).is_owner());
        assert!(!Permissions(65536).is_owner());
        assert!(!Permissions(7).is_owner());
        // Ownership grants no capability below 65535.
        let p = ParticipantPermissions::from(Permissions(32776));
        assert_eq!(
            p,
            ParticipantPermissions {
                is_owner: true,
                can_manage_participants: true,
                ..Default::default()
            }
        );
        // The six capabilities come from the low six bits only.
        let p = ParticipantPermissions::from(Permissions(64 | 2));
        assert_eq!(
            p,
            ParticipantPermissions {
                can_edit: true,
                ..Default::default()
            }
        );
        // Encoding then decoding is the identity whenever the owner has some capability.
        assert_eq!(
            ParticipantPermissions::from(Permissions::from(all_true())),
            all_true()
        );
        // Raw bits differ from the SDK's reading at exactly 32768.
        assert!(Permissions(32768).contains(Permissions::OWNER));
    }

    #[test]
    fn bit_ops_and_serde() {
        let mut p = Permissions::NONE;
        p.insert(Permissions::WRITE | Permissions::REMOVE_ALL);
        assert_eq!(p.bits(), 33);
        assert!(p.contains(Permissions::REMOVE_ALL) && !p.contains(Permissions::EDIT));
        p.remove(Permissions::WRITE);
        assert_eq!(p, Permissions::REMOVE_ALL);
        assert_eq!(p & Permissions::REMOVE_ALL, Permissions(32));
        assert_eq!(serde_json::to_string(&Permissions(65535)).unwrap(), "65535");
        assert_eq!(
            serde_json::from_str::<Permissions>("11").unwrap(),
            Permissions(11)
        );
        assert_eq!(
            serde_json::from_str::<Permissions>(r#""7""#).unwrap(),
            Permissions(7)
        );
        assert!(serde_json::from_str::<Permissions>("-1").is_err());
        assert!(serde_json::from_str::<Permissions>("4294967296").is_err());
        assert_eq!(
            format!("{:?}", Permissions(11)),
            "Permissions(11 = WRITE|EDIT|MANAGE_PARTICIPANTS)"
        );
        assert_eq!(format!("{:?}", Permissions::ALL), "Permissions(ALL)");
        assert_eq!(format!("{:?}", Permissions::NONE), "Permissions(0 = NONE)");
    }
}
