pub mod extract;
pub mod inspect;
pub mod pack;
