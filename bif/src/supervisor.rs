//! `supervisor`: Erlang's supervisor and dynamic supervisor (in progress).
