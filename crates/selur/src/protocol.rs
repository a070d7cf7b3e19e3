//! The wire protocol between host and guest, as plain bytes.
//!
//! request  = `[command u8][payload_len u32 LE][payload]`
//! response = `[status  u8][payload_len u32 LE][payload]`

use crate::error::{Error, ErrorKind, Result};

/// Bytes before the payload in both directions.
pub const HEADER_LEN: usize = 5;

/// Request commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Command {
    /// payload: image, or `image NUL name`; answers the id.
    Create = 1,
    Start = 2,
    Stop = 3,
    /// answers the container as JSON.
    Inspect = 4,
    Delete = 5,
    /// empty payload; answers ids separated by `\n`.
    List = 6,
    /// Diagnostics: answers the payload unchanged (transport cost).
    Echo = 7,
}

/// Response statuses: the six the host knows by name, and every other byte
/// as [`Status::Unknown`]. A status the host does not know is an answer, not
/// a broken frame: a newer guest may add statuses, so the typed operations
/// report it as [`ErrorKind::Unknown`] (`:unknown_error` in Elixir) with the
/// byte, and the bridge stays usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Ok,
    InvalidRequest,
    ContainerNotFound,
    ContainerAlreadyExists,
    NetworkError,
    InternalError,
    /// A byte outside `0..=5`. [`Status::from_u8`] never puts a known code
    /// here.
    Unknown(u8),
}

impl Status {
    /// The status for a wire byte; total, every byte is some status.
    pub fn from_u8(b: u8) -> Status {
        match b {
            0 => Status::Ok,
            1 => Status::InvalidRequest,
            2 => Status::ContainerNotFound,
            3 => Status::ContainerAlreadyExists,
            4 => Status::NetworkError,
            5 => Status::InternalError,
            other => Status::Unknown(other),
        }
    }

    /// The wire byte.
    pub fn code(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::InvalidRequest => 1,
            Status::ContainerNotFound => 2,
            Status::ContainerAlreadyExists => 3,
            Status::NetworkError => 4,
            Status::InternalError => 5,
            Status::Unknown(b) => b,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            _ => ErrorKind::from_status(self).as_str(),
        }
    }
}

/// How statuses and error kinds correspond: the protocol's half of
/// [`ErrorKind`], kept here so that the error type knows nothing of the wire.
impl ErrorKind {
    /// The wire status for this kind; host-side kinds travel as
    /// `internal_error`.
    pub fn status(self) -> Status {
        match self {
            ErrorKind::InvalidRequest => Status::InvalidRequest,
            ErrorKind::ContainerNotFound => Status::ContainerNotFound,
            ErrorKind::ContainerAlreadyExists => Status::ContainerAlreadyExists,
            ErrorKind::NetworkError => Status::NetworkError,
            ErrorKind::Unknown(b) => Status::Unknown(b),
            _ => Status::InternalError,
        }
    }

    /// The kind for a non-ok wire status.
    pub fn from_status(status: Status) -> ErrorKind {
        match status {
            Status::InvalidRequest => ErrorKind::InvalidRequest,
            Status::ContainerNotFound => ErrorKind::ContainerNotFound,
            Status::ContainerAlreadyExists => ErrorKind::ContainerAlreadyExists,
            Status::NetworkError => ErrorKind::NetworkError,
            Status::Unknown(b) => ErrorKind::Unknown(b),
            Status::Ok | Status::InternalError => ErrorKind::InternalError,
        }
    }
}

impl Error {
    /// The error a non-ok response status stands for, its payload as the
    /// message.
    pub fn from_status(status: Status, payload: &[u8]) -> Error {
        let text = String::from_utf8_lossy(payload);
        let message = match status {
            Status::Unknown(b) if text.is_empty() => {
                format!("guest answered status {b}, which this host does not know")
            }
            Status::Unknown(b) => {
                format!("guest answered status {b}, which this host does not know: {text}")
            }
            Status::InternalError if text.is_empty() => {
                "guest reported internal_error without a message (out of memory?)".into()
            }
            _ => text.into_owned(),
        };
        Error::new(ErrorKind::from_status(status), message)
    }
}

/// Encodes one request frame.
pub fn encode_request(command: u8, payload: &[u8]) -> Result<Vec<u8>> {
    let len = frame_len(payload.len())?;
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.push(command);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(payload);
    Ok(out)
}

/// Encodes one response frame (what the guest writes; used by tests and
/// the benchmark baseline).
pub fn encode_response(status: Status, payload: &[u8]) -> Result<Vec<u8>> {
    encode_request(status.code(), payload)
}

/// The length field for a payload of `n` bytes, if a frame can hold it.
pub(crate) fn frame_len(n: usize) -> Result<u32> {
    u32::try_from(n)
        .ok()
        .filter(|&n| n <= u32::MAX - HEADER_LEN as u32)
        .ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidRequest,
                format!("payload of {n} bytes does not fit a frame"),
            )
        })
}

/// Splits a frame into its first byte and its payload, checking that the
/// declared length matches the bytes present exactly.
pub fn decode_frame(frame: &[u8]) -> Result<(u8, &[u8])> {
    if frame.len() < HEADER_LEN {
        return Err(Error::new(
            ErrorKind::InternalError,
            format!(
                "frame of {} bytes is shorter than its {HEADER_LEN}-byte header",
                frame.len()
            ),
        ));
    }
    let declared = u32::from_le_bytes([frame[1], frame[2], frame[3], frame[4]]) as usize;
    let actual = frame.len() - HEADER_LEN;
    if declared != actual {
        return Err(Error::new(
            ErrorKind::InternalError,
            format!("frame header declares {declared} payload bytes at offset 1, {actual} present"),
        ));
    }
    Ok((frame[0], &frame[HEADER_LEN..]))
}

/// Decodes a response frame into its status and payload. Any status byte
/// decodes; only the frame's shape can be wrong.
pub fn decode_response(frame: &[u8]) -> Result<(Status, &[u8])> {
    let (b, payload) = decode_frame(frame)?;
    Ok((Status::from_u8(b), payload))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn request_round_trips(cmd in any::<u8>(), payload in proptest::collection::vec(any::<u8>(), 0..4096)) {
            let frame = encode_request(cmd, &payload).unwrap();
            prop_assert_eq!(frame.len(), HEADER_LEN + payload.len());
            let (c, p) = decode_frame(&frame).unwrap();
            prop_assert_eq!(c, cmd);
            prop_assert_eq!(p, &payload[..]);
        }

        #[test]
        fn response_round_trips(s in any::<u8>(), payload in proptest::collection::vec(any::<u8>(), 0..4096)) {
            let status = Status::from_u8(s);
            prop_assert_eq!(status.code(), s);
            let frame = encode_response(status, &payload).unwrap();
            let (st, p) = decode_response(&frame).unwrap();
            prop_assert_eq!(st, status);
            prop_assert_eq!(p, &payload[..]);
        }

        #[test]
        fn truncated_or_extended_frames_are_rejected(payload in proptest::collection::vec(any::<u8>(), 1..512), cut in 1usize..512, extra in 1usize..16) {
            let frame = encode_request(1, &payload).unwrap();
            let cut = cut.min(frame.len());
            prop_assert!(decode_frame(&frame[..frame.len() - cut]).is_err());
            let mut longer = frame.clone();
            longer.extend(std::iter::repeat_n(0u8, extra));
            prop_assert!(decode_frame(&longer).is_err());
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_response(&bytes);
        }
    }

    #[test]
    fn unknown_status_decodes_as_unknown() {
        let (st, p) = decode_response(&[9, 2, 0, 0, 0, b'h', b'i']).unwrap();
        assert_eq!((st, p), (Status::Unknown(9), &b"hi"[..]));
        assert_eq!(st.as_str(), "unknown_error");
        assert_eq!(ErrorKind::from_status(st), ErrorKind::Unknown(9));
    }

    #[test]
    fn every_status_maps_to_its_own_kind() {
        for b in 1..=u8::MAX {
            let st = Status::from_u8(b);
            assert_eq!(ErrorKind::from_status(st).status(), st);
        }
        assert_eq!(Status::from_u8(6), Status::Unknown(6));
        assert_eq!(Status::from_u8(5), Status::InternalError);
    }
}
