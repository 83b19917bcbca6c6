// Express 4 installed under an alias for the version matrix; its API is the one @types/express describes.
declare module 'express4' {
  import express from 'express';
  export default express;
}
