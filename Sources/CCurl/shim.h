#ifndef IMSGW_CCURL_SHIM_H
#define IMSGW_CCURL_SHIM_H

// libcurl's curl_easy_setopt/curl_easy_getinfo/curl_multi_setopt are variadic and
// several of its constants are macros: Swift imports neither, so this shim gives
// them typed names.
#include <curl/curl.h>

static const long imsgw_curl_global_all = CURL_GLOBAL_ALL;

static inline CURLcode imsgw_easy_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode imsgw_easy_setopt_off_t(CURL *h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode imsgw_easy_setopt_string(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode imsgw_easy_setopt_pointer(CURL *h, CURLoption o, void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode imsgw_easy_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) { return curl_easy_setopt(h, o, v); }

typedef size_t (*imsgw_data_callback)(char *ptr, size_t size, size_t nmemb, void *userdata);
static inline CURLcode imsgw_easy_setopt_data_callback(CURL *h, CURLoption o, imsgw_data_callback cb) { return curl_easy_setopt(h, o, cb); }

static inline CURLcode imsgw_easy_getinfo_long(CURL *h, CURLINFO i, long *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode imsgw_easy_getinfo_off_t(CURL *h, CURLINFO i, curl_off_t *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode imsgw_easy_getinfo_pointer(CURL *h, CURLINFO i, void **v) { return curl_easy_getinfo(h, i, v); }

static inline CURLMcode imsgw_multi_setopt_long(CURLM *m, CURLMoption o, long v) { return curl_multi_setopt(m, o, v); }

#endif
