// tests/clients: frees everything it allocates; stdio and iostream are
// used, so the runtime's own buffers are there at exit (valgrind frees
// them with __libc_freeres and __gnu_cxx::__freeres first).
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

int main()
{
	std::vector<std::string> words;
	for (int i = 0; i < 100; i++)
		words.push_back(std::string(40, char('a' + i % 26)));
	std::cout << words.size() << " words" << std::endl;
	std::printf("%s\n", words[3].c_str());
	return 0;
}
