/* Status values: a code for programs, a sentence naming the argument for people. */
#include "config.h"
#include <stdarg.h>
#include <stdio.h>
#include "nnref/core.h"

nnr_status nnr_ok(void)
{
    nnr_status st;
    st.code = NNR_OK;
    st.message[0] = '\0';
    return st;
}

nnr_status nnr_error(nnr_code code, const char *format, ...)
{
    nnr_status st;
    va_list args;
    st.code = code;
    va_start(args, format);
    vsnprintf(st.message, sizeof st.message, format, args);
    va_end(args);
    return st;
}

const char *nnr_code_name(nnr_code code)
{
    switch (code) {
    case NNR_OK:              return "success";
    case NNR_ERR_NULL:        return "null pointer argument";
    case NNR_ERR_SHAPE:       return "bad shape";
    case NNR_ERR_PARAM:       return "bad parameter";
    case NNR_ERR_OVERFLOW:    return "size overflow";
    case NNR_ERR_UNSUPPORTED: return "unsupported";
    case NNR_ERR_NOMEM:       return "out of memory";
    case NNR_ERR_IO:          return "input/output error";
    case NNR_ERR_FORMAT:      return "bad file format";
    }
    return "unknown status code";
}

const char *nnr_strerror(const nnr_status *status)
{
    if (status == NULL)
        return "no status (NULL passed to nnr_strerror)";
    if (status->message[0] != '\0')
        return status->message;
    return nnr_code_name(status->code);
}

const char *nnr_version(void)
{
    return PACKAGE_VERSION;
}
