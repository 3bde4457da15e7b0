//! Integration tests: the real `surge` server on a free port, against the real MariaDB shards and
//! Redis of the local stack (`scripts/stack.sh start`), each test with databases of its own.

mod helpers;

mod accounts;
mod cart;
mod catalog;
mod checkout;
mod faults;
mod health;
mod http_layers;
mod load;
mod orders;
mod pages;
mod payments;
mod psp_sandbox;
mod search;
mod shards;
