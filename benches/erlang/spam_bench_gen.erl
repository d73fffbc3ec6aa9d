%% The gen_server of the `gencall` case (spam_bench.erl): replies to each call with the request + 1.
%% Compiled with spam_bench.erl by spam-benches (src/erlang.rs) into the same directory.
-module(spam_bench_gen).
-behaviour(gen_server).
-export([init/1, handle_call/3, handle_cast/2]).

init([]) -> {ok, nostate}.

handle_call(I, _From, State) -> {reply, I + 1, State}.

handle_cast(_Msg, State) -> {noreply, State}.
