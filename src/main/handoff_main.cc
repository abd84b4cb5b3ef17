// main() for binaries that only register tests: links with handoff::handoff_main.

#include "handoff/main.h"

int main(int argc, char** argv) { return handoff::Main(argc, argv); }
