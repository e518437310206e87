#include <capnp/message.h>
