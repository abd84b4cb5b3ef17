// Package cart is the code under test of the Go example suite.
package cart

// Total sums prices given in cents.
func Total(prices ...int) int {
	sum := 0
	for _, p := range prices {
		sum += p
	}
	return sum
}
