/* TCP_INFO of a socket, as numbers in the caller's Float64Array. */
#ifndef FERRY_NATIVE_TCPINFO_H
#define FERRY_NATIVE_TCPINFO_H

#include <node_api.h>

/* Slots filled, in this order: rtt (µs), segments retransmitted in all, bytes sent (retransmits
 * included), bytes retransmitted, busy time (µs with data in flight), time limited by the
 * receiver's window (µs), time limited by the send buffer (µs), congestion window (segments). */
#define TCP_INFO_FIELDS 8

napi_value sock_tcp_info(napi_env env, napi_callback_info info);

#endif
