/*
 * A data connection's TCP_INFO: how many segments it retransmitted and how long it waited on
 * its congestion window, which tells the sender whether its streams are limited by loss (more
 * streams help) or by something else (they would not). Node has no getsockopt.
 *
 * Its own file because glibc's <netinet/tcp.h> stops at tcpi_total_retrans and cannot be
 * included beside <linux/tcp.h>, whose struct has the newer counters (bytes_sent, busy_time…).
 */
#include <errno.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "args.h"
#include "tcpinfo.h"

napi_value sock_tcp_info(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int fd;
  if (!get_args(env, info, 2, argv) || !arg_fd(env, argv[0], "getsockopt", &fd)) return NULL;
  napi_typedarray_type type;
  size_t length;
  void *data;
  if (napi_get_typedarray_info(env, argv[1], &type, &length, &data, NULL, NULL) != napi_ok ||
      type != napi_float64_array || length < TCP_INFO_FIELDS) {
    napi_throw_type_error(env, NULL, "ferry_native: tcpInfo needs a Float64Array(8)");
    return NULL;
  }
  struct tcp_info ti;
  memset(&ti, 0, sizeof ti);
  socklen_t len = sizeof ti;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0) return throw_errno(env, errno, "getsockopt");
  /* An older kernel fills a shorter struct: the counters it lacks stay 0 (memset above). */
  double *d = data;
  d[0] = (double)ti.tcpi_rtt;
  d[1] = (double)ti.tcpi_total_retrans;
  d[2] = (double)ti.tcpi_bytes_sent;
  d[3] = (double)ti.tcpi_bytes_retrans;
  d[4] = (double)ti.tcpi_busy_time;
  d[5] = (double)ti.tcpi_rwnd_limited;
  d[6] = (double)ti.tcpi_sndbuf_limited;
  d[7] = (double)ti.tcpi_snd_cwnd;
  return make_undefined(env);
}
