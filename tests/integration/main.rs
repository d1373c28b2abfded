//! Integration tests: the HTTP API and the lifecycle worker of the local runner, against
//! the AWS emulator, checking AWS state with the SDK. Run with `make test`, which starts
//! the emulator and sets `TENANCY_AWS_ENDPOINT`.

mod access;
mod api_errors;
mod boundary;
mod bus;
mod concurrency;
mod contracts;
mod credentials;
mod expiry;
mod grants;
mod inventory;
mod lifecycle;
mod permissions;
mod tenantctl;
mod types;
