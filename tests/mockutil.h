/* Helpers for C tests that run next to the mock Entra ID (tests/mock-entra/with-mock.sh). */
#pragma once
