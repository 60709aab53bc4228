#include "mockutil.h"
