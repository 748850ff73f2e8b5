// SUBSCRIBE events:<topic> for any pub/sub client: each event published after the subscription
// is a pub/sub message ["message", "events:<topic>", "<id> <payload>"], so that a client that
// only knows Redis' SUBSCRIBE (redis-py's pubsub, node-redis' subscribe) follows a topic, and
// keeps the last id it saw to resume with EVENTS READ|WATCH FROM id on any daemon. The events
// come from the same follower as EVENTS WATCH's (services/events/events_service.hpp): in order,
// each once, none missed after the subscribe reply while the connection lives.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "daemon/client_connection.hpp"
#include "daemon/daemon_context.hpp"
#include "protocol/command_table.hpp"
#include "protocol/reply_writer.hpp"

namespace baton {

/// push_hub's topics of a connection that follows a topic: by EVENTS WATCH ("events:<topic>")
/// and by SUBSCRIBE events:<topic> ("msg:events:<topic>", as the other families' channels).
inline const std::string events_watch_prefix = "events:";
inline const std::string events_message_prefix = "msg:events:";

/// SUBSCRIBE|UNSUBSCRIBE whose channels are all events:<topic>: answered here (true), else
/// false and nothing is done. SUBSCRIBE answers once every topic is followed from its newest
/// event (all or none: UNAVAILABLE if Redis could not tell where that is).
bool events_channel_command(const protocol::command_spec& spec,
                            const std::vector<std::string>& args, client_connection& conn,
                            daemon_context& ctx, client_connection::reply_ticket ticket);

/// UNSUBSCRIBE without channels: drops this connection's events channels, writing Redis'
/// unsubscribe push for each; how many it dropped.
std::size_t unsubscribe_events_channels(daemon_context& ctx, client_connection& conn,
                                        protocol::reply_writer& out);

/// One event as a pub/sub message on `topic`'s channel.
void write_event_message(protocol::reply_writer& out, const std::string& topic,
                         const std::string& id, const std::string& payload);

} // namespace baton
